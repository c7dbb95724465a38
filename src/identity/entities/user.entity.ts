import {
  Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn,
} from 'typeorm';
import { OrgEntity } from './org.entity';

export type UserRole = 'admin' | 'user';

@Entity({ name: 'users' })
@Index('UQ_users_username_lower', { synchronize: false }) // expression index lower(username), in the migration
@Index('IDX_users_org_id', ['orgId'])
export class UserEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'org_id', type: 'uuid' })
  orgId!: string;

  @ManyToOne(() => OrgEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'org_id', foreignKeyConstraintName: 'FK_users_org_id' })
  org?: OrgEntity;

  @Column({ type: 'varchar', length: 64 })
  username!: string;

  /** bcrypt; never selected unless asked for. */
  @Column({ name: 'password_hash', type: 'varchar', length: 72, select: false })
  passwordHash!: string;

  @Column({ name: 'given_name', type: 'varchar', length: 100, nullable: true })
  givenName!: string | null;

  @Column({ name: 'family_name', type: 'varchar', length: 100, nullable: true })
  familyName!: string | null;

  @Column({ type: 'varchar', length: 254, nullable: true })
  email!: string | null;

  @Column({ type: 'varchar', length: 16, default: 'user' })
  role!: UserRole;

  @CreateDateColumn({ name: 'registered_at', type: 'timestamptz' })
  registeredAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  /**
   * Set when the user's role is lowered or their password changes: no access token about them issued before it is
   * accepted any more (SPEC §7), including tokens no row records (a delegated token).
   */
  @Column({ name: 'tokens_not_before', type: 'timestamptz', nullable: true })
  tokensNotBefore!: Date | null;
}

/** Whether a token about `user` issued at `iat` (seconds) predates the user's last change of role or password. */
export function predatesCredentials(user: Pick<UserEntity, 'tokensNotBefore'>, iat: number): boolean {
  return user.tokensNotBefore !== null && iat < Math.floor(user.tokensNotBefore.getTime() / 1000);
}
