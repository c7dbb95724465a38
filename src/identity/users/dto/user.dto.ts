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

  @ApiProperty({ minLength: 8, description: '8 characters to 72 bytes (bcrypt)', writeOnly: true, example: 'correct-horse-battery-staple' })
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

  // The example is null: no uuid could name an org that exists wherever the example is tried.
  @ApiPropertyOptional({ type: String, format: 'uuid', nullable: true, example: null, description: 'The org to join; absent or null: the default org' })
  @IsOptional()
  @IsUUID()
  org_id?: string | null;
}

export class UpdateUserDto {
  @ApiPropertyOptional({ description: NAME_RULE, example: 'alice' })
  @IsOptional()
  @IsString()
  @Matches(NAME_PATTERN, { message: `username must be ${NAME_RULE}` })
  username?: string;

  @ApiPropertyOptional({ minLength: 8, description: '8 characters to 72 bytes (bcrypt); ends the user\'s sessions and tokens', writeOnly: true, example: 'correct-horse-battery-staple' })
  @IsOptional()
  @IsString()
  @Validate(PasswordBytes)
  password?: string;

  @ApiPropertyOptional({ type: String, nullable: true, example: 'Alice' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  given_name?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, example: 'Liddell' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  family_name?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, example: 'alice@example.com' })
  @IsOptional()
  @IsEmail()
  @MaxLength(254)
  email?: string | null;

  @ApiPropertyOptional({ enum: ROLES, example: 'user', description: 'A demotion from admin ends the user\'s sessions and tokens' })
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
