import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { PageMetaDto } from '../../../common/pagination';
import { OrgEntity } from '../../entities/org.entity';

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const NAME_RULE = "1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit";

export class CreateOrgDto {
  @ApiProperty({ example: 'acme', description: NAME_RULE })
  @IsString()
  @Matches(NAME_PATTERN, { message: `name must be ${NAME_RULE}` })
  name!: string;

  @ApiPropertyOptional({ example: 'Acme Corporation' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  display_name?: string;
}

export class UpdateOrgDto extends PartialType(CreateOrgDto) {}

export class OrgDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: String, nullable: true }) display_name!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;

  static from(org: OrgEntity): OrgDto {
    return { id: org.id, name: org.name, display_name: org.displayName, created_at: org.createdAt.toISOString() };
  }
}

export class OrgPageDto extends PageMetaDto {
  @ApiProperty({ type: [OrgDto] }) items!: OrgDto[];
}
