import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { AppEntity } from '../../clients/entities/app.entity';
import { UserEntity } from '../../identity/entities/user.entity';
import { AuthorizationCodeEntity } from './authorization-code.entity';
import { GrantEntity } from './grant.entity';

/**
 * One refresh token. Rotation (OAuth 2.1 §4.3.1) makes a chain: every token of a chain shares `familyId`, points
 * at its `parent`, and all but the newest carry `rotatedAt`. Presenting a rotated token revokes the family (within a
 * grace window, by the same client while its successor is live: answers that successor again).
 */
@Entity({ name: 'refresh_tokens' })
@Index('UQ_refresh_tokens_token_hash', ['tokenHash'], { unique: true })
@Index('IDX_refresh_tokens_successor_key_rotated_at', ['rotatedAt'], { where: '"successor_key" IS NOT NULL' })
@Index('IDX_refresh_tokens_family_id', ['familyId'])
@Index('IDX_refresh_tokens_grant_id', ['grantId'])
@Index('IDX_refresh_tokens_user_id', ['userId'])
@Index('IDX_refresh_tokens_authorization_code_id', ['authorizationCodeId'])
@Index('IDX_refresh_tokens_expires_at', ['expiresAt'])
export class RefreshTokenEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'token_hash', type: 'char', length: 64 })
  tokenHash!: string;

  @Column({ name: 'family_id', type: 'uuid' })
  familyId!: string;

  @Column({ name: 'parent_id', type: 'uuid', nullable: true })
  parentId!: string | null;

  @ManyToOne(() => RefreshTokenEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'parent_id', foreignKeyConstraintName: 'FK_refresh_tokens_parent_id' })
  parent?: RefreshTokenEntity;

  @Column({ name: 'grant_id', type: 'uuid' })
  grantId!: string;

  @ManyToOne(() => GrantEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'grant_id', foreignKeyConstraintName: 'FK_refresh_tokens_grant_id' })
  grant?: GrantEntity;

  @Column({ name: 'app_id', type: 'uuid' })
  appId!: string;

  @ManyToOne(() => AppEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'app_id', foreignKeyConstraintName: 'FK_refresh_tokens_app_id' })
  app?: AppEntity;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'FK_refresh_tokens_user_id' })
  user?: UserEntity;

  /**
   * The code this family started from, so a replayed code can revoke what it minted (RFC 6749 §4.1.2). SET NULL:
   * pruning expired codes must not delete live tokens.
   */
  @Column({ name: 'authorization_code_id', type: 'uuid', nullable: true })
  authorizationCodeId!: string | null;

  @ManyToOne(() => AuthorizationCodeEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'authorization_code_id', foreignKeyConstraintName: 'FK_refresh_tokens_authorization_code_id' })
  authorizationCode?: AuthorizationCodeEntity;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  scopes!: string[];

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  resources!: string[];

  /** `jti` of the access token issued beside this refresh token, denied when the family is revoked. */
  @Column({ name: 'access_token_jti', type: 'varchar', length: 64, nullable: true })
  accessTokenJti!: string | null;

  @Column({ name: 'access_token_expires_at', type: 'timestamptz', nullable: true })
  accessTokenExpiresAt!: Date | null;

  @Column({ name: 'auth_time', type: 'timestamptz', nullable: true })
  authTime!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'rotated_at', type: 'timestamptz', nullable: true })
  rotatedAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  /**
   * With a reuse grace window (OAUTH2_REFRESH_REUSE_GRACE), the random key this token's successor was derived from:
   * the successor is HMAC-SHA256(key, this token), so only someone holding both this row and this token can
   * reproduce it, to answer a retried refresh with the same successor. Null under strict rotation.
   */
  @Column({ name: 'successor_key', type: 'bytea', nullable: true, select: false })
  successorKey!: Buffer | null;
}
