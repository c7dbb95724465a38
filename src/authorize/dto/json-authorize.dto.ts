import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString, MaxLength } from 'class-validator';

/** SPEC §2: the JSON authorize of single-page consent UIs; `scope` is an array. */
export class JsonAuthorizeDto {
  @ApiProperty({ description: "The app's client_id", example: 'kQ3h0tW7yJx2mN5bV8cZ1aLd' }) @IsString() @MaxLength(64) client_id!: string;
  @ApiProperty({ example: 'https://billing.example.com/callback' }) @IsString() @MaxLength(2000) redirect_uri!: string;
  @ApiProperty({ example: 'code' }) @IsString() @MaxLength(20) response_type!: string;
  @ApiProperty({ type: [String], example: ['openid', 'profile'] }) @IsArray() @ArrayMaxSize(50) @IsString({ each: true }) scope!: string[];
  @ApiPropertyOptional({ example: 'af0ifjsldkj' }) @IsOptional() @IsString() @MaxLength(2048) state?: string;
  @ApiPropertyOptional({ description: 'BASE64URL(SHA256(code_verifier)) (RFC 7636)', example: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' }) @IsOptional() @IsString() @MaxLength(128) code_challenge?: string;
  @ApiPropertyOptional({ example: 'S256' }) @IsOptional() @IsString() @MaxLength(10) code_challenge_method?: string;
  @ApiPropertyOptional({ example: 'n-0S6_WzA2Mj' }) @IsOptional() @IsString() @MaxLength(512) nonce?: string;
  @ApiPropertyOptional({ description: 'RFC 8707 resource indicator', example: 'https://billing.example.com/api' }) @IsOptional() @IsString() @MaxLength(2000) resource?: string;
}

export class JsonAuthorizeResponseDto {
  @ApiProperty({ description: 'The client redirect URI with code, state and iss', example: 'https://app.example.com/callback?code=…&state=…&iss=…' })
  redirect_uri!: string;
}
