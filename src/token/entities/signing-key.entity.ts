import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export type SigningKeyStatus = 'active' | 'retired';

/** An EC public key as a JWK (RFC 7518 §6.2.1). */
export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
}

/**
 * An ES256 key pair. One is active; retired keys stay published in the JWKS until `publishUntil`, when every
 * token they signed has expired.
 */
@Entity({ name: 'signing_keys' })
@Index('UQ_signing_keys_one_active', { synchronize: false }) // partial unique index (status = 'active'), in the migration
export class SigningKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'PK_signing_keys' })
  kid!: string;

  @Column({ type: 'varchar', length: 16, default: 'ES256' })
  alg!: string;

  @Column({ type: 'varchar', length: 16, default: 'active' })
  status!: SigningKeyStatus;

  @Column({ name: 'public_jwk', type: 'jsonb' })
  publicJwk!: PublicJwk;

  /** PKCS#8 PEM, or its AES-256-GCM ciphertext when KEY_ENCRYPTION_SECRET is set. */
  @Column({ name: 'private_key', type: 'text', select: false })
  privateKey!: string;

  @Column({ type: 'boolean', default: false })
  encrypted!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true })
  retiredAt!: Date | null;

  @Column({ name: 'publish_until', type: 'timestamptz', nullable: true })
  publishUntil!: Date | null;
}
