import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsIn, IsOptional, IsString, IsUUID, Length, Matches, MaxLength, Validate, ValidationArguments, ValidatorConstraint, ValidatorConstraintInterface } from 'class-validator';
import { PageMetaDto } from '../../../common/pagination';
import { UserEntity, UserRole } from '../../entities/user.entity';
import { NAME_PATTERN, NAME_RULE } from '../../orgs/dto/org.dto';

export const ROLES: readonly UserRole[] = ['admin', 'user'];

/** bcrypt reads at most 72 bytes: a longer password would be silently truncated, so it is refused. */
@ValidatorConstraint({ name: 'passwordBytes' })
export class PasswordBytes implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && value.length >= 8 && Buffer.byteLength(value, 'utf8') <= 72;
  }
  defaultMessage(args: ValidationArguments): string {
    return `${args.property} must be 8 characters to 72 bytes long`;
  }
}

export class CreateUserDto {
  @ApiProperty({ example: 'alice', description: `${NAME_RULE}; unique, case-insensitively` })
  @IsString()
  @Matches(NAME_PATTERN, { message: `username must be ${NAME_RULE}` })
  username!: string;

  @ApiProperty({ minLength: 8, description: '8 characters to 72 bytes (bcrypt)', writeOnly: true })
  @IsString()
  @Validate(PasswordBytes)
  password!: string;

  @ApiPropertyOptional({ example: 'Alice' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  given_name?: string;

  @ApiPropertyOptional({ example: 'Liddell' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  family_name?: string;

  @ApiPropertyOptional({ example: 'alice@example.com' })
  @IsOptional()
  @IsEmail()
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional({ enum: ROLES, default: 'user' })
  @IsOptional()
  @IsIn(ROLES)
  role?: UserRole;

  @ApiPropertyOptional({ format: 'uuid', description: 'Defaults to the default org' })
  @IsOptional()
  @IsUUID()
  org_id?: string;
}

export class UpdateUserDto {
  @ApiPropertyOptional({ description: NAME_RULE })
  @IsOptional()
  @IsString()
  @Matches(NAME_PATTERN, { message: `username must be ${NAME_RULE}` })
  username?: string;

  @ApiPropertyOptional({ writeOnly: true })
  @IsOptional()
  @IsString()
  @Validate(PasswordBytes)
  password?: string;

  @ApiPropertyOptional({ type: String, nullable: true })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  given_name?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  family_name?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true })
  @IsOptional()
  @IsEmail()
  @MaxLength(254)
  email?: string | null;

  @ApiPropertyOptional({ enum: ROLES })
  @IsOptional()
  @IsIn(ROLES)
  role?: UserRole;
}

export class UserDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() username!: string;
  @ApiProperty({ type: String, nullable: true }) given_name!: string | null;
  @ApiProperty({ type: String, nullable: true }) family_name!: string | null;
  @ApiProperty({ type: String, nullable: true }) email!: string | null;
  @ApiProperty({ enum: ROLES }) role!: UserRole;
  @ApiProperty({ format: 'uuid' }) org_id!: string;
  @ApiProperty({ format: 'date-time' }) registered_at!: string;

  static from(user: UserEntity): UserDto {
    return {
      id: user.id,
      username: user.username,
      given_name: user.givenName,
      family_name: user.familyName,
      email: user.email,
      role: user.role,
      org_id: user.orgId,
      registered_at: user.registeredAt.toISOString(),
    };
  }
}

export class UserPageDto extends PageMetaDto {
  @ApiProperty({ type: [UserDto] }) items!: UserDto[];
}
