import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { UserEntity } from './user.entity';

/** A signed-in browser. The cookie holds 256 random bits; only their SHA-256 is stored. */
@Entity({ name: 'browser_sessions' })
@Index('UQ_browser_sessions_id_hash', ['idHash'], { unique: true })
@Index('IDX_browser_sessions_user_id', ['userId'])
@Index('IDX_browser_sessions_expires_at', ['expiresAt'])
export class BrowserSessionEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /** Hex SHA-256 of the cookie value. */
  @Column({ name: 'id_hash', type: 'char', length: 64 })
  idHash!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'FK_browser_sessions_user_id' })
  user?: UserEntity;

  /** When the user proved who they are (OIDC `auth_time`). */
  @Column({ name: 'authenticated_at', type: 'timestamptz' })
  authenticatedAt!: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
