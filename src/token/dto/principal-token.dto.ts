import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';

export class DelegatedTokenRequestDto {
  @ApiProperty({ format: 'uuid', description: 'The user the token is for' }) @IsUUID() sub!: string;
  @ApiPropertyOptional({ type: [String], example: ['openid', 'profile'], description: 'Defaults to, and may not exceed, what the user could be granted' })
  @IsOptional() @IsArray() @ArrayMaxSize(50) @IsString({ each: true }) scopes?: string[];
  @ApiPropertyOptional({ description: 'Carried in the token as `team_id`', example: 'team-42' }) @IsOptional() @IsString() @MaxLength(200) team_id?: string;
}
