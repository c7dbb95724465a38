import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { CounterFamily, HistogramFamily } from './series';
import { routeTemplate } from './http-route';

/** The fixed names of the protocol endpoints, the `endpoint` label of protocol errors. */
export type ProtocolEndpointName = 'authorize' | 'token' | 'revoke' | 'introspect' | 'register' | 'userinfo' | 'other';

/** Tables whose rows housekeeping removes (SPEC §6), the `table` label of pruning. */
export type PrunedTable = 'authorization_codes' | 'refresh_tokens' | 'revoked_access_tokens' | 'signing_keys' | 'browser_sessions' | 'apps' | 'audit_events';

/** Error codes a protocol endpoint answers (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7591 §3.2.2; RFC 8707). */
const OAUTH_ERROR_CODES: ReadonlySet<string> = new Set([
  'invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope',
  'unsupported_response_type', 'access_denied', 'login_required', 'consent_required', 'interaction_required',
  'invalid_target', 'invalid_token', 'insufficient_scope', 'invalid_redirect_uri', 'invalid_client_metadata',
  'server_error', 'temporarily_unavailable',
]);

const HTTP_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Seconds. The token endpoint answers in milliseconds; a bcrypt check takes ~50 ms; DATABASE_CONNECT_TIMEOUT is 5 s. */
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds. A pooled connection is usually handed out at once; waiting means the pool is saturated. */
const POOL_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/**
 * What this instance counts, for `/metrics` in the Prometheus text format. Its own Registry, never prom-client's
 * global one: tests run several apps in one process, and each must count only its own. Every label value comes
 * from a fixed set — route templates, grant types, error codes, table names — so no label can carry a user, a
 * token, a secret or a path with ids in it.
 *
 * The request path only adds to numbers here (see ./series.ts); gauges of state held elsewhere (the pool, the
 * LISTEN connection, the deny set) are read when scraped, through `gauge()`.
 */
@Injectable()
export class Metrics {
  private readonly registry = new Registry();
  private processMetrics = false;

  private readonly httpRequests = this.counter('portcullis_http_requests_total', 'HTTP requests answered, by method, route template and status', ['method', 'route', 'status']);
  private readonly httpDuration = this.histogram('portcullis_http_request_duration_seconds', 'Time from the request reaching the server to the last byte of its answer, by method and route template', ['method', 'route'], HTTP_BUCKETS);
  private readonly tokens = this.counter('portcullis_tokens_issued_total', 'Successful token endpoint answers, by grant type', ['grant_type']);
  private readonly oauthErrors = this.counter('portcullis_oauth_errors_total', 'Protocol error answers (RFC 6749 error codes), by endpoint and code', ['endpoint', 'error']);
  private readonly refreshReuse = this.counter('portcullis_refresh_token_reuse_total', 'Rotated refresh tokens presented again: each revoked its family (RFC 9700 §4.14.2)', []).with();
  private readonly graceAnswers = this.counter('portcullis_refresh_token_grace_answers_total', 'Rotated refresh tokens presented again within OAUTH2_REFRESH_REUSE_GRACE and answered their successor', []).with();
  private readonly codeReplays = this.counter('portcullis_authorization_code_replay_total', 'Redeemed authorization codes presented again: each revoked what the code minted (RFC 6749 §4.1.2)', []).with();
  private readonly clientAuthCache = this.counter('portcullis_client_auth_cache_total', 'Client secret checks answered from the cache of verified secrets (hit) or by bcrypt (miss)', ['result']);
  private readonly prunedRows = this.counter('portcullis_pruned_rows_total', 'Rows removed by housekeeping, by table', ['table']);
  private readonly poolAcquire = this.histogram('portcullis_db_pool_acquire_seconds', 'Time waited for a pooled database connection', [], POOL_BUCKETS).with();
  private readonly cacheHit = this.clientAuthCache.with('hit');
  private readonly cacheMiss = this.clientAuthCache.with('miss');

  /**
   * Express middleware, ahead of everything else: one `finish` listener per request (`on`, not `once`: a response
   * finishes once, and `once` wraps the listener), which adds the request to its route's series — about half a
   * microsecond in all. Aborted requests (no `finish`) are not counted.
   */
  readonly http = (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    res.on('finish', () => {
      const method = HTTP_METHODS.has(req.method) ? req.method : 'OTHER';
      const route = routeTemplate(req, res);
      this.httpDuration.with(method, route).observe((performance.now() - started) / 1000);
      this.httpRequests.with(method, route, String(res.statusCode)).inc();
    });
    next();
  };

  tokenIssued(grantType: string): void {
    this.tokens.with(grantType).inc();
  }

  oauthError(endpoint: ProtocolEndpointName, code: string): void {
    this.oauthErrors.with(endpoint, OAUTH_ERROR_CODES.has(code) ? code : 'other').inc();
  }

  refreshTokenReused(): void {
    this.refreshReuse.inc();
  }

  refreshTokenGraceAnswered(): void {
    this.graceAnswers.inc();
  }

  authorizationCodeReplayed(): void {
    this.codeReplays.inc();
  }

  clientAuthCacheLookup(hit: boolean): void {
    (hit ? this.cacheHit : this.cacheMiss).inc();
  }

  pruned(table: PrunedTable, rows: number): void {
    this.prunedRows.with(table).inc(rows);
  }

  /** How long a request waited for a pooled connection. */
  poolAcquired(seconds: number): void {
    this.poolAcquire.observe(seconds);
  }

  /** A gauge of state held elsewhere, read when scraped: `read` sets its values. */
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[], read: (gauge: Gauge<L>) => void): void {
    new Gauge<L>({ name, help, labelNames, registers: [this.registry], collect() { read(this); } });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The Prometheus text of everything counted. The process metrics (CPU, memory, event loop, GC: prom-client's
   * defaults) start with the first scrape, so an instance nobody scrapes — and every app a test boots — does not
   * watch its event loop and GC for nothing.
   */
  scrape(): Promise<string> {
    if (!this.processMetrics) {
      this.processMetrics = true;
      collectDefaultMetrics({ register: this.registry });
    }
    return this.registry.metrics();
  }

  private counter(name: string, help: string, labelNames: readonly string[]): CounterFamily {
    const family = new CounterFamily(name, help, labelNames);
    this.registry.registerMetric(family.asMetric());
    return family;
  }

  private histogram(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]): HistogramFamily {
    const family = new HistogramFamily(name, help, labelNames, bounds);
    this.registry.registerMetric(family.asMetric());
    return family;
  }
}
