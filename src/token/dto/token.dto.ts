import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

/**
 * RFC 6749 §4.1.3, §6, §4.4 token request, form-encoded or JSON. Shape only: a repeated parameter arrives as an
 * array and fails `@IsString()`; what the values mean is checked by the grant type.
 */
export class TokenRequestDto {
  @ApiProperty({ example: 'authorization_code' }) @IsString() @MaxLength(100) grant_type!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(512) code?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(2000) redirect_uri?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(256) code_verifier?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(512) refresh_token?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(2000) scope?: string;
  @ApiPropertyOptional({ description: 'RFC 8707 resource indicator' }) @IsOptional() @IsString() @MaxLength(2000) resource?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(64) client_id?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(512) client_secret?: string;
}

/** RFC 6749 §5.1 */
export class TokenResponseDto {
  @ApiProperty() access_token!: string;
  @ApiProperty({ example: 'Bearer' }) token_type!: 'Bearer';
  @ApiProperty({ example: 900 }) expires_in!: number;
  @ApiPropertyOptional() refresh_token?: string;
  @ApiProperty({ example: 'openid profile' }) scope!: string;
  @ApiPropertyOptional() id_token?: string;
}
