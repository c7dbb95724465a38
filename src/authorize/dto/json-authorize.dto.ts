import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString, MaxLength } from 'class-validator';

/** SPEC §2: the JSON authorize of single-page consent UIs; `scope` is an array. */
export class JsonAuthorizeDto {
  @ApiProperty() @IsString() @MaxLength(64) client_id!: string;
  @ApiProperty({ example: 'https://app.example.com/callback' }) @IsString() @MaxLength(2000) redirect_uri!: string;
  @ApiProperty({ example: 'code' }) @IsString() @MaxLength(20) response_type!: string;
  @ApiProperty({ type: [String], example: ['openid', 'profile'] }) @IsArray() @ArrayMaxSize(50) @IsString({ each: true }) scope!: string[];
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(2048) state?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(128) code_challenge?: string;
  @ApiPropertyOptional({ example: 'S256' }) @IsOptional() @IsString() @MaxLength(10) code_challenge_method?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(512) nonce?: string;
  @ApiPropertyOptional({ description: 'RFC 8707 resource indicator' }) @IsOptional() @IsString() @MaxLength(2000) resource?: string;
}

export class JsonAuthorizeResponseDto {
  @ApiProperty({ description: 'The client redirect URI with code, state and iss', example: 'https://app.example.com/callback?code=…&state=…&iss=…' })
  redirect_uri!: string;
}
