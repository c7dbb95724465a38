import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import { Repository } from 'typeorm';
import { Clock } from '../../common/clock';
import { OAuthError } from '../../common/oauth/oauth-error';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { returnedRows } from '../../common/database';
import { clientActor } from '../../identity/audit/actors';
import { AuditTrail } from '../../identity/audit/audit-trail.service';
import { OrgsService } from '../../identity/orgs/orgs.service';
import { AppEntity } from '../entities/app.entity';
import { ScopesService } from '../scopes/scopes.service';
import { checkMetadataDocument, DocumentMetadata } from './check-metadata-document';
import { MetadataDocumentFetcher, MetadataDocumentProblem } from './metadata-document-fetcher';
import { checkDocumentUrl, looksLikeDocumentUrl } from './metadata-document-url';

/**
 * A client whose metadata document cannot be used. `invalid_client` (401 at the token endpoint; at the
 * authorization endpoint a page, never a redirect), saying why, so the developer can fix the document.
 */
export class UnusableMetadataDocument extends OAuthError {
  constructor(readonly clientId: string, problem: string) {
    super('invalid_client', `the client's metadata document cannot be used: ${problem}`, 401);
    this.name = 'UnusableMetadataDocument';
  }
}

/** How long a cached copy stands in for a failing host before the host is asked again. */
const RETRY_FAILING_HOST_MS = 30_000;

const UPSERT = `
  INSERT INTO apps (client_id, secret_hash, name, display_name, provenance, org_id, redirect_uris, grant_types, response_types,
                    token_endpoint_auth_method, application_type, scopes, logo_uri, client_uri, metadata_fetched_at, metadata_expires_at)
  VALUES ($1, NULL, $2, $2, 'cimd', $3, $4, $5, $6, 'none', $7, $8, $9, $10, $11, $12)
  ON CONFLICT (client_id) DO UPDATE
     SET name = EXCLUDED.name, display_name = EXCLUDED.display_name, redirect_uris = EXCLUDED.redirect_uris,
         grant_types = EXCLUDED.grant_types, response_types = EXCLUDED.response_types, application_type = EXCLUDED.application_type,
         scopes = EXCLUDED.scopes, logo_uri = EXCLUDED.logo_uri, client_uri = EXCLUDED.client_uri,
         metadata_fetched_at = EXCLUDED.metadata_fetched_at, metadata_expires_at = EXCLUDED.metadata_expires_at, updated_at = now()
   WHERE apps.provenance = 'cimd'
  RETURNING (xmax = 0) AS created`;

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2026-07-28 §Client ID Metadata
 * Documents): a client_id that is an https URL names the client's metadata. The document is fetched (SSRF-safe,
 * MetadataDocumentFetcher), checked, and kept as the app row of provenance `cimd` — a copy in PostgreSQL, so
 * every instance shares it — for as long as its cache headers say, within the configured floor and ceiling. A
 * stale copy is fetched again on its next use; when the host fails, a copy younger than the ceiling stands in.
 */
@Injectable()
export class ClientIdMetadataDocuments {
  private readonly logger = new Logger(ClientIdMetadataDocuments.name);
  private readonly settings: AppConfig['metadataDocuments'];
  private readonly fetcher: MetadataDocumentFetcher;
  /** Fetches running now, by URL: concurrent requests of one client wait for one fetch. */
  private readonly fetching = new Map<string, Promise<void>>();
  /** Hosts that failed with a cached copy standing in: asked again after a short pause, not on every request. */
  private readonly failing = new LRUCache<string, true>({ max: 10_000, ttl: RETRY_FAILING_HOST_MS });

  constructor(
    @InjectRepository(AppEntity) private readonly apps: Repository<AppEntity>,
    private readonly orgs: OrgsService,
    private readonly scopes: ScopesService,
    private readonly clock: Clock,
    private readonly audit: AuditTrail,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.settings = config.metadataDocuments;
    this.fetcher = new MetadataDocumentFetcher({
      allowedAddresses: this.settings.allowedAddresses,
      timeoutMs: this.settings.fetchTimeoutMs,
      trustedCa: this.settings.trustedCa,
      dnsServers: this.settings.dnsServers,
    });
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** Whether this client_id names a document (an http one too: it is refused with the reason, not as unknown). */
  handles(clientId: string): boolean {
    return this.settings.enabled && looksLikeDocumentUrl(clientId);
  }

  /**
   * The copy may be used without fetching: it is a document's, and fresh — or its host failed a moment ago and the
   * copy is still within the ceiling (so a failing host is not asked on every request, each waiting for the timeout).
   */
  mayUse(app: Readonly<AppEntity> | null): app is Readonly<AppEntity> {
    if (app?.provenance !== 'cimd') return false;
    if (app.metadataExpiresAt && app.metadataExpiresAt > this.clock.now()) return true;
    return this.failing.has(app.clientId) && this.withinCeiling(app);
  }

  /**
   * Fetches the document again and stores the copy (the caller then reads the row anew), or leaves a cached copy
   * in place while its host fails and the copy is younger than the ceiling. Throws UnusableMetadataDocument.
   */
  refresh(clientId: string, cached: Readonly<AppEntity> | null): Promise<void> {
    const running = this.fetching.get(clientId);
    if (running) return running;
    const refresh = this.fetchAndStore(clientId, cached).finally(() => this.fetching.delete(clientId));
    this.fetching.set(clientId, refresh);
    return refresh;
  }

  private async fetchAndStore(clientId: string, cached: Readonly<AppEntity> | null): Promise<void> {
    let metadata: DocumentMetadata;
    let maxAgeSeconds: number | undefined;
    try {
      const url = checkDocumentUrl(clientId, this.settings.allowedDomains);
      const fetched = await this.fetcher.fetch(url);
      metadata = checkMetadataDocument(clientId, fetched.body, this.scopes);
      maxAgeSeconds = fetched.maxAgeSeconds;
    } catch (e) {
      if (!(e instanceof MetadataDocumentProblem)) throw e;
      if (e.transient && this.withinCeiling(cached)) {
        this.logger.warn({ clientId, problem: e.message }, 'client metadata document could not be fetched: its cached copy stands in');
        this.failing.set(clientId, true);
        return;
      }
      this.logger.warn({ clientId, problem: e.message }, 'client metadata document refused');
      throw new UnusableMetadataDocument(clientId, e.message);
    }
    this.failing.delete(clientId);
    const now = this.clock.now();
    const ttl = Math.min(this.settings.cacheMaxSeconds, Math.max(this.settings.cacheMinSeconds, maxAgeSeconds ?? 0));
    const org = await this.orgs.ensure(this.config.dcr.defaultOrg);
    await this.apps.manager.transaction(async (tx) => {
      const [row] = returnedRows<{ created: boolean }>(await tx.query(UPSERT, [
        clientId, metadata.name, org.id, metadata.redirectUris, metadata.grantTypes, metadata.responseTypes, metadata.applicationType,
        metadata.scopes, metadata.logoUri, metadata.clientUri, now, new Date(now.getTime() + ttl * 1000),
      ]));
      // A row the upsert inserted has no deleting transaction (xmax 0): the document made a new app. A fetch that
      // refreshed an existing copy registers nothing.
      if (row?.created) {
        await this.audit.record(tx, {
          type: 'app.registered', actor: clientActor({ clientId, name: metadata.name }), clientId,
          details: { provenance: 'cimd', name: metadata.name, token_endpoint_auth_method: 'none' },
        });
      }
    });
  }

  private withinCeiling(cached: Readonly<AppEntity> | null): boolean {
    return cached?.provenance === 'cimd' && !!cached.metadataFetchedAt &&
      cached.metadataFetchedAt.getTime() + this.settings.cacheMaxSeconds * 1000 > this.clock.now().getTime();
  }
}
