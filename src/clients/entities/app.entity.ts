import {
  Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn,
} from 'typeorm';
import { OrgEntity } from '../../identity/entities/org.entity';

/**
 * Who registered the app: an admin (`api`), the app itself by RFC 7591 (`dcr`), or nobody — its client_id is the
 * URL of a metadata document it publishes (`cimd`, draft-ietf-oauth-client-id-metadata-document), kept here as a
 * copy refreshed from the document.
 */
export type AppProvenance = 'api' | 'dcr' | 'cimd';

/** Apps nobody in the organisation vouched for: registered by themselves or identified by their own document. */
export function isSelfRegistered(app: Pick<AppEntity, 'provenance'>): boolean {
  return app.provenance !== 'api';
}
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';
export type ApplicationType = 'web' | 'native';

/** An OAuth client (RFC 6749 §2). Registered by an admin (`api`), by itself (`dcr`, RFC 7591), or by a document (`cimd`). */
@Entity({ name: 'apps' })
@Index('UQ_apps_client_id', ['clientId'], { unique: true })
@Index('IDX_apps_org_id', ['orgId'])
@Index('IDX_apps_provenance_last_used_at', ['provenance', 'lastUsedAt'])
@Index('IDX_apps_registration_digest', ['registrationDigest'], { where: '"registration_digest" IS NOT NULL' })
export class AppEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /** Generated (24 characters) for registered apps; the document's URL for `cimd` apps. */
  @Column({ name: 'client_id', type: 'varchar', length: 1024 })
  clientId!: string;

  /** bcrypt of the client secret; null for public clients (`none`). */
  @Column({ name: 'secret_hash', type: 'varchar', length: 72, nullable: true, select: false })
  secretHash!: string | null;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ name: 'display_name', type: 'varchar', length: 200 })
  displayName!: string;

  @Column({ type: 'varchar', length: 8 })
  provenance!: AppProvenance;

  @Column({ name: 'org_id', type: 'uuid' })
  orgId!: string;

  @ManyToOne(() => OrgEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'org_id', foreignKeyConstraintName: 'FK_apps_org_id' })
  org?: OrgEntity;

  @Column({ name: 'redirect_uris', type: 'text', array: true, default: () => "'{}'" })
  redirectUris!: string[];

  @Column({ name: 'grant_types', type: 'text', array: true, default: () => "'{authorization_code}'" })
  grantTypes!: string[];

  @Column({ name: 'response_types', type: 'text', array: true, default: () => "'{code}'" })
  responseTypes!: string[];

  @Column({ name: 'token_endpoint_auth_method', type: 'varchar', length: 32, default: 'client_secret_basic' })
  tokenEndpointAuthMethod!: TokenEndpointAuthMethod;

  @Column({ name: 'application_type', type: 'varchar', length: 8, default: 'web' })
  applicationType!: ApplicationType;

  /** The scopes this app may ask for. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  scopes!: string[];

  /**
   * The RFC 8707 resources (audiences) this app may ask for, set by an admin; null: any. The issuer itself is
   * always allowed (see allowsResource).
   */
  @Column({ name: 'allowed_resources', type: 'text', array: true, nullable: true })
  allowedResources!: string[] | null;

  @Column({ name: 'logo_uri', type: 'text', nullable: true })
  logoUri!: string | null;

  @Column({ name: 'client_uri', type: 'text', nullable: true })
  clientUri!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'secret_rotated_at', type: 'timestamptz', nullable: true })
  secretRotatedAt!: Date | null;

  /** When an admin reviewed this self-registered app and made it the organisation's (provenance `api` since). */
  @Column({ name: 'reviewed_at', type: 'timestamptz', nullable: true })
  reviewedAt!: Date | null;

  /** `cimd`: when the document was last fetched; a stale copy stands in for a failing host until the cache ceiling. */
  @Column({ name: 'metadata_fetched_at', type: 'timestamptz', nullable: true })
  metadataFetchedAt!: Date | null;

  /** `cimd`: until when the copy is used without fetching the document again (its cache headers, within bounds). */
  @Column({ name: 'metadata_expires_at', type: 'timestamptz', nullable: true })
  metadataExpiresAt!: Date | null;

  /**
   * `dcr`, public clients only: SHA-256 (hex) of the source address and the registered metadata in canonical form,
   * so that the same client registering again within OAUTH2_DCR_REUSE_WINDOW is answered this app. Derived from an
   * address, so never read with the app.
   */
  @Column({ name: 'registration_digest', type: 'varchar', length: 64, nullable: true, select: false })
  registrationDigest!: string | null;

  /** Last successful authentication or authorization; idle self-registered apps are removed (SPEC §5). */
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;
}
