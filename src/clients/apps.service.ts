import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { Clock } from '../common/clock';
import { CryptoService } from '../common/crypto/crypto.service';
import { invalidClientMetadata, invalidRedirectUri, OAuthError } from '../common/oauth/oauth-error';
import { Page, page, PageQueryDto } from '../common/pagination';
import { notFound, validationError } from '../common/problem/problem';
import { normaliseText } from '../common/text/display-text';
import { isUuid } from '../common/uuid';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { CachedRows, TableChanges } from '../database/cached-rows';
import { DatabaseNotifications } from '../database/notifications.service';
import { UsageWriteBehind } from '../database/write-behind';
import { clientActor } from '../identity/audit/actors';
import { AuditEventInput, AuditTrail } from '../identity/audit/audit-trail.service';
import { OrgsService } from '../identity/orgs/orgs.service';
import { checkAllowedResources } from './allowed-resources';
import { AppDto, AppWithSecretDto, CreateAppDto, RegistrationResponseDto, UpdateAppDto } from './dto/app.dto';
import { AppEntity, AppProvenance } from './entities/app.entity';
import { checkClientMetadata, ClientMetadata, ClientMetadataInput, displayNameProblem, MetadataError } from './registration/client-metadata';
import { canonicalRegistration, REGISTRATION_LOCK_CLASS, registrationDigestInput, registrationLockKey } from './registration/registration-digest';
import { unusedSelfRegisteredApp } from './registration/unused-apps';
import { ScopesService } from './scopes/scopes.service';
import { ClientIdMetadataDocuments } from './metadata-documents/client-id-metadata-documents.service';
import { looksLikeDocumentUrl } from './metadata-documents/metadata-document-url';

/**
 * Apps (OAuth clients): registered by admins (`api`) or by themselves (`dcr`, RFC 7591). Client authentication
 * and authorization requests read apps from memory (every change on any instance clears the copies: CachedRows);
 * their use is recorded in memory and written behind.
 */
@Injectable()
export class AppsService implements OnApplicationShutdown {
  private readonly byClientId: CachedRows<AppEntity>;
  private readonly usage: UsageWriteBehind;

  constructor(
    @InjectRepository(AppEntity) private readonly apps: Repository<AppEntity>,
    private readonly orgs: OrgsService,
    private readonly scopes: ScopesService,
    private readonly crypto: CryptoService,
    private readonly clock: Clock,
    private readonly notifications: DatabaseNotifications,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly documents: ClientIdMetadataDocuments,
    private readonly audit: AuditTrail,
    tableChanges: TableChanges,
  ) {
    this.byClientId = tableChanges.cache<AppEntity>(
      'apps',
      (clientId) => this.apps.createQueryBuilder('app').addSelect('app.secretHash').where('app.clientId = :clientId', { clientId }).getOne(),
      { max: 10_000, ttlMs: 5 * 60_000 },
    );
    this.usage = new UsageWriteBehind('apps', (sql, params) => this.apps.query(sql, params));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.usage.stop();
  }

  /** Writes the pending `last_used_at` of this instance's apps, before anything reads them. */
  flushUsage(): Promise<void> {
    return this.usage.flush();
  }

  /**
   * RFC 7591 §3: the server makes the client_id and the secret; the client chooses neither (SPEC §5). `source` is
   * the caller's address (TRUST_PROXY decides which one that is).
   */
  async registerSelf(body: unknown, source: string): Promise<RegistrationResponseDto> {
    const metadata = asMetadataInput(body, toOAuthError);
    const checked = this.check(metadata, 'dcr', toOAuthError);
    const org = await this.orgs.ensure(this.config.dcr.defaultOrg);
    const name = checked.name ?? 'Unnamed app';
    const identity = { name, displayName: name, provenance: 'dcr' as const, orgId: org.id };
    if (checked.tokenEndpointAuthMethod === 'none') {
      return RegistrationResponseDto.from(await this.registerPublic(checked, identity, source), undefined);
    }
    const { app, secret } = await this.insert(checked, identity);
    return RegistrationResponseDto.from(app, secret);
  }

  /**
   * A public client registering again from the same address with the same metadata within OAUTH2_DCR_REUSE_WINDOW
   * is answered the client it registered then, with its client_id_issued_at (RFC 7591 §3.2.1: the response is what
   * the server registered): an agent registering on every connect keeps one client instead of filling the table.
   * Only public clients: a confidential client's secret is shown once and kept as a bcrypt hash, so it could not be
   * answered again. A public client_id is no secret and the redirect URIs are the same, so whoever else is answered
   * it this way could have used it anyway. Never an app the sweep is about to remove, one an admin reviewed or
   * changed, or one that is gone. Identical registrations wait for each other on a lock named by their digest, on
   * every instance, so concurrent ones make one app.
   */
  private async registerPublic(metadata: ClientMetadata, identity: AppIdentity, source: string): Promise<AppEntity> {
    const app = this.build(metadata, identity, null);
    const canonical = canonicalRegistration(app);
    const digest = this.crypto.sha256Hex(registrationDigestInput(source, canonical));
    app.registrationDigest = digest;
    const window = this.config.dcr.reuseWindow;
    const id = await this.apps.manager.transaction(async (tx) => {
      if (window > 0) {
        const earlier = await this.registeredEarlier(tx, digest, identity.orgId, window);
        // The digest stays when an admin changes the metadata; the metadata itself must still be the same.
        const same = earlier.find((e) => canonicalRegistration(e) === canonical);
        if (same) return same.id; // no new app, so nothing to record
      }
      await this.insertRecorded(tx, app);
      return app.id;
    });
    return this.findOrThrow(id);
  }

  /**
   * Apps registered from the same address with the same digest within the window, newest first, after waiting for
   * any identical registration in progress (the digest's advisory lock). Held until `tx` commits: the sweep (FOR
   * UPDATE SKIP LOCKED) passes over them meanwhile.
   */
  private async registeredEarlier(tx: EntityManager, digest: string, orgId: string, window: number): Promise<AppEntity[]> {
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [REGISTRATION_LOCK_CLASS, registrationLockKey(digest)]);
    return tx.getRepository(AppEntity).createQueryBuilder('app')
      .where('app.registrationDigest = :digest', { digest })
      .andWhere("app.provenance = 'dcr'")
      .andWhere('app.orgId = :orgId', { orgId })
      .andWhere('app.createdAt > now() - make_interval(secs => :window)', { window })
      // Not one the sweep would remove now (a window longer than OAUTH2_DCR_UNUSED_TTL): it could be gone at once.
      .andWhere(`(${unusedSelfRegisteredApp('app', ':unusedTtl', ':idleTtl')}) IS NOT TRUE`, { unusedTtl: this.config.dcr.unusedTtl, idleTtl: this.config.dcr.idleTtl })
      .orderBy('app.createdAt', 'DESC')
      .setLock('pessimistic_read')
      .getMany();
  }

  async create(body: CreateAppDto): Promise<AppWithSecretDto> {
    const input = asMetadataInput(body, toProblem);
    const checked = this.check(input, 'api', toProblem);
    const name = requiredName(body.name);
    const displayName = body.display_name === undefined ? name : requiredName(body.display_name, 'display_name');
    if (body.org_id !== undefined && body.org_id !== null && (typeof body.org_id !== 'string' || !isUuid(body.org_id))) {
      throw validationError([{ name: 'org_id', error: 'invalid_value', title: 'org_id must be a UUID', pointer: '/org_id' }]);
    }
    const allowedResources = body.allowed_resources === undefined ? null : this.checkAllowedResources(body.allowed_resources);
    const org = await this.orgs.forMember(body.org_id);
    const { app, secret } = await this.insert(checked, { name, displayName, provenance: 'api', orgId: org.id, allowedResources });
    return { ...AppDto.from(app), ...(secret ? { client_secret: secret } : {}) };
  }

  async list(query: PageQueryDto): Promise<Page<AppDto>> {
    await this.usage.flush();
    return page(query, await this.apps.findAndCount({ order: { createdAt: 'ASC', id: 'ASC' }, skip: query.skip, take: query.per_page }), AppDto.from);
  }

  async get(id: string): Promise<AppDto> {
    await this.usage.flush();
    return AppDto.from(await this.findOrThrow(id));
  }

  /** Metadata changes are checked as a whole, as if the app registered again with the merged metadata. */
  async update(id: string, body: UpdateAppDto): Promise<AppDto> {
    const app = await this.findOrThrow(id);
    refuseDocumentApp(app);
    const patch = asMetadataInput(body, toProblem);
    const merged: ClientMetadataInput = {
      redirect_uris: app.redirectUris,
      grant_types: app.grantTypes,
      response_types: app.responseTypes,
      token_endpoint_auth_method: app.tokenEndpointAuthMethod,
      scope: app.scopes,
      logo_uri: app.logoUri,
      client_uri: app.clientUri,
      application_type: app.applicationType,
      ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
    };
    const checked = this.check(merged, app.provenance, toProblem);
    const before = auditedFields(app);
    const wasPublic = app.tokenEndpointAuthMethod === 'none';
    if (wasPublic !== (checked.tokenEndpointAuthMethod === 'none')) {
      throw validationError([{ name: 'token_endpoint_auth_method', error: 'invalid_value', title: 'An app cannot switch between public and confidential; register a new one', pointer: '/token_endpoint_auth_method' }]);
    }
    Object.assign(app, {
      redirectUris: checked.redirectUris,
      grantTypes: checked.grantTypes,
      responseTypes: checked.responseTypes,
      tokenEndpointAuthMethod: checked.tokenEndpointAuthMethod,
      scopes: checked.scopes,
      logoUri: checked.logoUri,
      clientUri: checked.clientUri,
      applicationType: checked.applicationType,
      // Absent keeps the list; null lifts the limit. The cache is cleared below, so the next request obeys it.
      ...(body.allowed_resources !== undefined ? { allowedResources: this.checkAllowedResources(body.allowed_resources) } : {}),
      ...(body.name !== undefined ? { name: requiredName(body.name) } : {}),
      ...(body.display_name !== undefined ? { displayName: requiredName(body.display_name, 'display_name') } : {}),
    });
    const after = auditedFields(app);
    const fields = Object.keys(after).filter((f) => JSON.stringify(after[f]) !== JSON.stringify(before[f]));
    const saved = await this.apps.manager.transaction(async (tx) => {
      const row = await tx.save(app);
      await this.audit.record(tx, { type: 'app.changed', clientId: app.clientId, details: { name: app.name, fields } });
      return row;
    });
    this.byClientId.clear();
    return AppDto.from(saved);
  }

  /**
   * An admin vouches for a self-registered app: from now on it is one of the organisation's apps (provenance
   * `api`), shown without the self-registered warning and never removed as idle. Its scopes and grant types stay
   * within what it registered with; an admin widens them with PATCH. Reviewing an app added by an admin changes
   * nothing.
   */
  async review(id: string): Promise<AppDto> {
    const app = await this.findOrThrow(id);
    refuseDocumentApp(app);
    if (app.provenance === 'dcr') {
      await this.apps.manager.transaction(async (tx) => {
        await tx.update(AppEntity, { id }, { provenance: 'api', reviewedAt: this.clock.now() });
        await this.audit.record(tx, { type: 'app.changed', clientId: app.clientId, details: { name: app.name, fields: ['provenance'], reviewed: true } });
      });
      this.byClientId.clear();
    }
    return AppDto.from(await this.findOrThrow(id));
  }

  /** A new secret; the old one stops working at once (its bcrypt hash, and so every cached verification, is gone). */
  async rotateSecret(id: string): Promise<AppWithSecretDto> {
    const app = await this.findOrThrow(id);
    if (app.tokenEndpointAuthMethod === 'none') {
      throw validationError([{ name: 'token_endpoint_auth_method', error: 'invalid_value', title: 'A public client has no secret', pointer: '/token_endpoint_auth_method' }]);
    }
    const secret = this.crypto.randomToken(32);
    const secretHash = await this.crypto.hashPassword(secret);
    await this.apps.manager.transaction(async (tx) => {
      await tx.update(AppEntity, { id }, { secretHash, secretRotatedAt: this.clock.now() });
      await this.audit.record(tx, { type: 'app.secret_rotated', clientId: app.clientId, details: { name: app.name } });
    });
    this.byClientId.clear();
    return { ...AppDto.from(await this.findOrThrow(id)), client_secret: secret };
  }

  /**
   * The app's grants, codes and refresh tokens go with it (ON DELETE CASCADE), and the database denies their live
   * access tokens in the same transaction (migration TokensDieWithTheirSource); this instance has heard of it
   * before answering.
   */
  async remove(id: string): Promise<void> {
    const app = await this.findOrThrow(id);
    await this.apps.manager.transaction(async (tx) => {
      await tx.delete(AppEntity, { id: app.id });
      await this.audit.record(tx, { type: 'app.deleted', clientId: app.clientId, details: { name: app.name, provenance: app.provenance } });
    });
    this.byClientId.clear();
    await this.notifications.flush();
  }

  /**
   * The app with its secret hash, for client authentication; a frozen copy shared by every request. A client_id
   * that is a URL names a metadata document (when they are enabled), fetched again when its copy is stale; one
   * that cannot be used throws UnusableMetadataDocument.
   */
  findForAuthentication(clientId: string): Promise<Readonly<AppEntity> | null> {
    if (looksLikeDocumentUrl(clientId)) return this.documents.enabled ? this.findByDocument(clientId) : Promise.resolve(null);
    if (clientId.length === 0 || clientId.length > 64) return Promise.resolve(null);
    return this.byClientId.get(clientId);
  }

  private async findByDocument(clientId: string): Promise<Readonly<AppEntity> | null> {
    const cached = await this.byClientId.get(clientId);
    if (this.documents.mayUse(cached)) return cached;
    await this.documents.refresh(clientId, cached);
    // The row changed (or a stale copy stands in): read it anew; every other instance drops its copy by the trigger.
    this.byClientId.clear();
    return this.byClientId.get(clientId);
  }

  async findByClientId(clientId: string): Promise<AppEntity | null> {
    const app = await this.findForAuthentication(clientId);
    return app && withoutSecretHash(app);
  }

  /** Records use, written behind; idle self-registered apps are removed by their last use. */
  markUsed(app: Pick<AppEntity, 'id'>): void {
    this.usage.record(app.id, this.clock.now());
  }

  private check(input: ClientMetadataInput, provenance: AppProvenance, wire: (e: MetadataError) => Error): ClientMetadata {
    try {
      return checkClientMetadata(input, provenance, this.scopes);
    } catch (e) {
      throw e instanceof MetadataError ? wire(e) : e;
    }
  }

  private checkAllowedResources(value: unknown): string[] | null {
    try {
      return checkAllowedResources(value);
    } catch (e) {
      throw e instanceof MetadataError ? toProblem(e) : e;
    }
  }

  private async insert(metadata: ClientMetadata, identity: AppIdentity): Promise<{ app: AppEntity; secret?: string }> {
    const secret = metadata.tokenEndpointAuthMethod === 'none' ? undefined : this.crypto.randomToken(32);
    const app = this.build(metadata, identity, secret ? await this.crypto.hashPassword(secret) : null);
    await this.apps.manager.transaction((tx) => this.insertRecorded(tx, app));
    return { app: await this.findOrThrow(app.id), secret };
  }

  /**
   * A new app and its `app.registered` event, in `tx`. An admin registering one is the request's actor; an app
   * registering itself (RFC 7591) is its own: the request has no one else to name.
   */
  private async insertRecorded(tx: EntityManager, app: AppEntity): Promise<void> {
    await tx.insert(AppEntity, app);
    const event: AuditEventInput = {
      type: 'app.registered',
      clientId: app.clientId,
      ...(app.provenance === 'api' ? {} : { actor: clientActor(app) }),
      details: { provenance: app.provenance, name: app.name, token_endpoint_auth_method: app.tokenEndpointAuthMethod },
    };
    await this.audit.record(tx, event);
  }

  /** A new app with a client_id of its own, not yet stored. */
  private build(metadata: ClientMetadata, identity: AppIdentity, secretHash: string | null): AppEntity {
    return this.apps.create({
      ...identity,
      clientId: this.crypto.randomToken(18),
      secretHash,
      redirectUris: metadata.redirectUris,
      grantTypes: metadata.grantTypes,
      responseTypes: metadata.responseTypes,
      tokenEndpointAuthMethod: metadata.tokenEndpointAuthMethod,
      applicationType: metadata.applicationType,
      scopes: metadata.scopes,
      logoUri: metadata.logoUri,
      clientUri: metadata.clientUri,
    });
  }

  private async findOrThrow(id: string): Promise<AppEntity> {
    const app = isUuid(id) ? await this.apps.findOneBy({ id }) : null;
    if (!app) throw notFound('No app with this id');
    return app;
  }
}

/** What an admin may change on an app, by its API name: `app.changed` names those that changed. */
const AUDITED_FIELDS = [
  'name', 'display_name', 'redirect_uris', 'grant_types', 'response_types', 'token_endpoint_auth_method', 'application_type', 'scope',
  'logo_uri', 'client_uri', 'allowed_resources',
] as const satisfies readonly (keyof AppDto)[];

function auditedFields(app: AppEntity): Record<string, unknown> {
  const shown = AppDto.from(app);
  return Object.fromEntries(AUDITED_FIELDS.map((field) => [field, shown[field]]));
}

type AppIdentity = Pick<AppEntity, 'name' | 'displayName' | 'provenance' | 'orgId'> & Partial<Pick<AppEntity, 'allowedResources'>>;

/** The app as every caller but client authentication sees it: without its secret's hash. */
export function withoutSecretHash(app: Readonly<AppEntity>): AppEntity {
  const { secretHash: _hidden, ...rest } = app;
  return rest as AppEntity;
}

/** RFC 7591 metadata is a JSON object; anything else is refused before any field is read. */
function asMetadataInput(body: unknown, wire: (e: MetadataError) => Error): ClientMetadataInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw wire(new MetadataError('invalid_client_metadata', '', 'the body must be a JSON object of client metadata'));
  }
  const b = body as Record<string, unknown>;
  return {
    redirect_uris: b.redirect_uris,
    client_name: b.client_name,
    grant_types: b.grant_types,
    response_types: b.response_types,
    token_endpoint_auth_method: b.token_endpoint_auth_method,
    scope: b.scope,
    logo_uri: b.logo_uri,
    client_uri: b.client_uri,
    application_type: b.application_type,
  };
}

/** An app identified by its metadata document is what its document says: nobody edits or reviews it here. */
function refuseDocumentApp(app: AppEntity): void {
  if (app.provenance !== 'cimd') return;
  throw validationError([{ name: 'provenance', error: 'invalid_value', title: 'This app is defined by its client metadata document (provenance cimd): change the document, or delete the app', pointer: '/provenance' }]);
}

/** Names follow the rules of a registration's `client_name`: people read them on the consent page. */
function requiredName(value: unknown, field = 'name'): string {
  const problem = displayNameProblem(value, field);
  if (problem) throw validationError([{ name: field, error: 'invalid_value', title: problem, pointer: `/${field}` }]);
  return normaliseText(value as string);
}

const toOAuthError = (e: MetadataError): OAuthError =>
  e.code === 'invalid_redirect_uri' ? invalidRedirectUri(e.description) : invalidClientMetadata(e.description);

const toProblem = (e: MetadataError): Error =>
  validationError([{ name: e.field.replace(/\//g, '.'), error: 'invalid_value', title: e.description, pointer: `/${e.field}` }]);
