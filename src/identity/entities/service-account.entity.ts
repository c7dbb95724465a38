import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { OrgEntity } from './org.entity';
import { UserRole } from './user.entity';

/** A non-human API caller. Its bearer token is shown once; only the token's SHA-256 is stored. */
@Entity({ name: 'service_accounts' })
@Index('UQ_service_accounts_name_lower', { synchronize: false }) // expression index lower(name), in the migration
@Index('UQ_service_accounts_token_hash', ['tokenHash'], { unique: true })
@Index('IDX_service_accounts_org_id', ['orgId'])
export class ServiceAccountEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'org_id', type: 'uuid' })
  orgId!: string;

  @ManyToOne(() => OrgEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'org_id', foreignKeyConstraintName: 'FK_service_accounts_org_id' })
  org?: OrgEntity;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'varchar', length: 16, default: 'user' })
  role!: UserRole;

  @Column({ name: 'token_hash', type: 'char', length: 64, select: false })
  tokenHash!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
