import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

/** RFC 7009 §2.1 / RFC 7662 §2.1 request. An unknown token_type_hint is ignored (RFC 7009 §2.1). */
export class TokenActionDto {
  @ApiProperty() @IsOptional() @IsString() @MaxLength(8192) token?: string;
  @ApiPropertyOptional({ enum: ['access_token', 'refresh_token'] }) @IsOptional() @IsString() @MaxLength(64) token_type_hint?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(64) client_id?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(512) client_secret?: string;
}

/** RFC 7662 §2.2 */
export class IntrospectionResponseDto {
  @ApiProperty() active!: boolean;
  @ApiPropertyOptional({ enum: ['Bearer', 'refresh_token'] }) token_type?: string;
  @ApiPropertyOptional() scope?: string;
  @ApiPropertyOptional() client_id?: string;
  @ApiPropertyOptional() sub?: string;
  @ApiPropertyOptional({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }) aud?: string | string[];
  @ApiPropertyOptional() iss?: string;
  @ApiPropertyOptional() iat?: number;
  @ApiPropertyOptional() exp?: number;
  @ApiPropertyOptional() jti?: string;
  @ApiPropertyOptional({ type: Object }) act?: Record<string, unknown>;
}
