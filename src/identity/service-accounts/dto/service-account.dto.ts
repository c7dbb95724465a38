import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Matches } from 'class-validator';
import { PageMetaDto } from '../../../common/pagination';
import { ServiceAccountEntity } from '../../entities/service-account.entity';
import { UserRole } from '../../entities/user.entity';
import { NAME_PATTERN, NAME_RULE } from '../../orgs/dto/org.dto';
import { ROLES } from '../../users/dto/user.dto';

export class CreateServiceAccountDto {
  @ApiProperty({ example: 'billing-sync', description: `${NAME_RULE}; unique, case-insensitively` })
  @IsString()
  @Matches(NAME_PATTERN, { message: `name must be ${NAME_RULE}` })
  name!: string;

  @ApiPropertyOptional({ enum: ROLES, default: 'user' })
  @IsOptional()
  @IsIn(ROLES)
  role?: UserRole;

  // The example is null: no uuid could name an org that exists wherever the example is tried.
  @ApiPropertyOptional({ type: String, format: 'uuid', nullable: true, example: null, description: 'The org to join; absent or null: the default org' })
  @IsOptional()
  @IsUUID()
  org_id?: string | null;
}

export class UpdateServiceAccountDto {
  @ApiPropertyOptional({ description: NAME_RULE, example: 'billing-sync' })
  @IsOptional()
  @IsString()
  @Matches(NAME_PATTERN, { message: `name must be ${NAME_RULE}` })
  name?: string;

  @ApiPropertyOptional({ enum: ROLES, example: 'user' })
  @IsOptional()
  @IsIn(ROLES)
  role?: UserRole;
}

export class ServiceAccountDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ROLES }) role!: UserRole;
  @ApiProperty({ format: 'uuid' }) org_id!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) last_used_at!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revoked_at!: string | null;

  static from(account: ServiceAccountEntity): ServiceAccountDto {
    return {
      id: account.id,
      name: account.name,
      role: account.role,
      org_id: account.orgId,
      created_at: account.createdAt.toISOString(),
      last_used_at: account.lastUsedAt?.toISOString() ?? null,
      revoked_at: account.revokedAt?.toISOString() ?? null,
    };
  }
}

export class CreatedServiceAccountDto extends ServiceAccountDto {
  @ApiProperty({ description: 'The bearer token. Shown only in this response: store it now.', example: 'pcsa_…' })
  token!: string;
}

export class ServiceAccountPageDto extends PageMetaDto {
  @ApiProperty({ type: [ServiceAccountDto] }) items!: ServiceAccountDto[];
}
