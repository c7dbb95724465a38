import { ApiProperty } from '@nestjs/swagger';

export class AuthorizationDto {
  @ApiProperty({ format: 'uuid' }) grant_id!: string;
  @ApiProperty({ format: 'date-time', description: 'RFC 3339' }) grant_issued_at!: string;
  @ApiProperty() app_name!: string;
  @ApiProperty() app_display_name!: string;
  @ApiProperty() app_client_id!: string;
  @ApiProperty({ enum: ['api', 'dcr', 'cimd'] }) app_provenance!: string;
  @ApiProperty({ type: [String] }) scope!: string[];
}

export class AuthorizationListDto {
  @ApiProperty({ type: [AuthorizationDto] }) items!: AuthorizationDto[];
}

/** One refresh-token family: what a user sees as a signed-in session of an app. */
export class OAuthSessionDto {
  @ApiProperty({ format: 'uuid', description: 'Identifies the session (its refresh-token family)' }) token_id!: string;
  @ApiProperty() client_name!: string;
  @ApiProperty() client_id!: string;
  @ApiProperty({ description: 'Seconds since the epoch' }) created_at!: number;
  @ApiProperty({ description: 'Space-separated scopes', example: 'openid profile offline_access' }) scope!: string;
}

export class RevokeAllDto {
  @ApiProperty({ example: 'Revoked 2 sessions' }) message!: string;
  @ApiProperty({ example: 2 }) count!: number;
}
