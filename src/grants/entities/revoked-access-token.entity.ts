import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** A denied access-token `jti`, kept until the token would have expired anyway (then pruned). */
@Entity({ name: 'revoked_access_tokens' })
@Index('IDX_revoked_access_tokens_expires_at', ['expiresAt'])
export class RevokedAccessTokenEntity {
  @PrimaryColumn({ type: 'varchar', length: 1024, primaryKeyConstraintName: 'PK_revoked_access_tokens' })
  jti!: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @CreateDateColumn({ name: 'revoked_at', type: 'timestamptz' })
  revokedAt!: Date;
}
