import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { AppEntity } from '../../clients/entities/app.entity';
import { UserEntity } from '../../identity/entities/user.entity';
import { GrantEntity } from './grant.entity';

/** RFC 6749 §4.1.2: 256 random bits, stored only as a SHA-256 hash, single use, short-lived. */
@Entity({ name: 'authorization_codes' })
@Index('UQ_authorization_codes_code_hash', ['codeHash'], { unique: true })
@Index('IDX_authorization_codes_grant_id', ['grantId'])
@Index('IDX_authorization_codes_expires_at', ['expiresAt'])
export class AuthorizationCodeEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'code_hash', type: 'char', length: 64 })
  codeHash!: string;

  @Column({ name: 'app_id', type: 'uuid' })
  appId!: string;

  @ManyToOne(() => AppEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'app_id', foreignKeyConstraintName: 'FK_authorization_codes_app_id' })
  app?: AppEntity;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'FK_authorization_codes_user_id' })
  user?: UserEntity;

  @Column({ name: 'grant_id', type: 'uuid' })
  grantId!: string;

  @ManyToOne(() => GrantEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'grant_id', foreignKeyConstraintName: 'FK_authorization_codes_grant_id' })
  grant?: GrantEntity;

  @Column({ name: 'redirect_uri', type: 'text' })
  redirectUri!: string;

  /** Whether the authorize request named redirect_uri; RFC 6749 §4.1.3 then requires it on the token request. */
  @Column({ name: 'redirect_uri_explicit', type: 'boolean', default: true })
  redirectUriExplicit!: boolean;

  @Column({ name: 'code_challenge', type: 'varchar', length: 128, nullable: true })
  codeChallenge!: string | null;

  @Column({ name: 'code_challenge_method', type: 'varchar', length: 8, nullable: true })
  codeChallengeMethod!: string | null;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  scopes!: string[];

  @Column({ type: 'varchar', length: 512, nullable: true })
  nonce!: string | null;

  /** RFC 8707 resource indicators authorized with this code. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  resources!: string[];

  @Column({ name: 'auth_time', type: 'timestamptz' })
  authTime!: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  /** The access token minted from this code, denied if the code is replayed (RFC 6749 §4.1.2). */
  @Column({ name: 'access_token_jti', type: 'varchar', length: 64, nullable: true })
  accessTokenJti!: string | null;

  @Column({ name: 'access_token_expires_at', type: 'timestamptz', nullable: true })
  accessTokenExpiresAt!: Date | null;

  /** Set by the single conditional UPDATE that redeems the code. */
  @Column({ name: 'consumed_at', type: 'timestamptz', nullable: true })
  consumedAt!: Date | null;
}
