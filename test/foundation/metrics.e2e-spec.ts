import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { DcrCleanupService } from '../../src/clients/registration/dcr-cleanup.service';
import { TableChanges } from '../../src/database/cached-rows';
import { AccessTokenDenyList } from '../../src/grants/access-token-deny-list.service';
import { BrowserSessionsService } from '../../src/identity/sessions/browser-sessions.service';
import { MetricsListener } from '../../src/observability/metrics-listener';
import { MaintenanceService } from '../../src/token/maintenance.service';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { createUser, signIn } from '../helpers/identity';
import { delta, Sample, scrape, Scrape, valueOf } from '../helpers/metrics';
import { authorizeAndConsent, authorizeParams, getAuthorize, locationParams, pkce } from '../helpers/oauth';
import { exchange, introspect, issueTokens, oauthError, refresh, registerApp, revoke, tokenRequest, userinfo } from '../helpers/protocol';

/**
 * Issue 15 item 1: `/metrics` in the Prometheus text format — on by default, off with METRICS_ENABLED=false, on a
 * port of its own with METRICS_PORT — counting requests by route template, tokens by grant type, protocol errors
 * by code, reuse and replay, the client-secret cache, pruning, the pool, the LISTEN connection and the deny set,
 * with no label ever carrying a user, a token, a secret or a path with ids.
 */
describe('/metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp();
  });
  afterAll(() => t.close());

  it('answers the Prometheus text format on the main port, without credentials and without caching', async () => {
    const res = await request(t.url).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.text).toContain('# TYPE portcullis_http_requests_total counter');
    expect(res.text).toContain('# TYPE portcullis_http_request_duration_seconds histogram');
  });

  it('serves the process metrics', async () => {
    const { samples } = await scrape(t.url);
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(samples.some((s) => s.name === name)).toBe(true);
    }
  });

  it('reads the pool, the LISTEN connection, the deny set and the cached rows when scraped', async () => {
    const { samples } = await scrape(t.url);
    expect(valueOf(samples, 'portcullis_db_pool_connections', { state: 'total' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'portcullis_db_pool_connections', { state: 'total' })).toBeLessThanOrEqual(10);
    expect(samples.filter((s) => s.name === 'portcullis_db_pool_connections').map((s) => s.labels.state).sort()).toEqual(['idle', 'total', 'waiting']);
    expect(valueOf(samples, 'portcullis_db_pool_max_connections')).toBe(10);
    expect(valueOf(samples, 'portcullis_listener_connected')).toBe(1);
    expect(valueOf(samples, 'portcullis_denied_tokens')).toBe(t.app.get(AccessTokenDenyList, { strict: false }).liveCount);
    const cached = samples.filter((s) => s.name === 'portcullis_cached_rows').map((s) => [s.labels.table, s.value]);
    expect(Object.fromEntries(cached)).toEqual(t.app.get(TableChanges).sizes());
  });

  it('times every wait for a pooled connection', async () => {
    const before = await scrape(t.url);
    await request(t.url).get('/readyz').expect(200);
    const after = await scrape(t.url);
    expect(delta(before, after, 'portcullis_db_pool_acquire_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(valueOf(after.samples, 'portcullis_db_pool_acquire_seconds_bucket', { le: '+Inf' })).toBe(valueOf(after.samples, 'portcullis_db_pool_acquire_seconds_count'));
  });

  describe('after a whole flow', () => {
    let before: Scrape;
    let after: Scrape;
    /** What must never appear in a label: every secret, token, username and id the flow used. */
    const secrets: string[] = [];
    const ids: string[] = [];
    let client: RegisteredApp;
    let exchanges = 0;
    const TOKEN = { method: 'POST', route: '/oauth2/token' };

    beforeAll(async () => {
      const admin = await signIn(t);
      client = await createApp(t, admin, { name: 'metrics-app', grant_types: ['authorization_code', 'refresh_token', 'client_credentials'] });
      const username = `metrics-user-${randomBytes(4).toString('hex')}`;
      const user = await createUser(t, admin, { username });
      secrets.push(client.clientSecret!, client.clientId, username, user.password);
      ids.push(user.id, client.id);
      const userCookie = await signIn(t, username, user.password);
      secrets.push(userCookie.split('=')[1]);

      before = await scrape(t.url);

      // Authorization code (first use of the secret: bcrypt, a cache miss), userinfo, introspection, refresh.
      const tokens = await issueTokens(t, client, userCookie);
      exchanges++;
      secrets.push(tokens.access_token, tokens.refresh_token!, tokens.id_token!);
      expect((await userinfo(t, tokens.access_token)).status).toBe(200);
      expect((await introspect(t, client, tokens.access_token)).body.active).toBe(true);
      const rotated = await refresh(t, client, tokens.refresh_token!);
      expect(rotated.status).toBe(200);
      secrets.push(rotated.body.access_token, rotated.body.refresh_token);
      // The used refresh token again: its family is revoked.
      expect((await refresh(t, client, tokens.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
      // A code redeemed twice: the second time revokes what it minted.
      const { code, verifier } = await authorizeAndConsent(t, client, userCookie);
      secrets.push(code, verifier);
      const first = await exchange(t, client, code, verifier);
      expect(first.status).toBe(200);
      exchanges++;
      secrets.push(first.body.access_token);
      expect((await exchange(t, client, code, verifier)).body).toEqual(oauthError('invalid_grant'));
      expect((await revoke(t, client, first.body.access_token)).status).toBe(200);
      // A wrong secret (always checked by bcrypt), then client credentials.
      const wrong = await request(t.url).post('/oauth2/token').type('form').set('Authorization', basic(client.clientId, 'not-the-secret-at-all-123456'))
        .send({ grant_type: 'client_credentials' });
      expect(wrong.body).toEqual(oauthError('invalid_client'));
      const service = await tokenRequest(t, client, { grant_type: 'client_credentials' });
      expect(service.status).toBe(200);
      secrets.push(service.body.access_token);
      // A bad token at userinfo, an error redirected from the authorization endpoint.
      expect((await userinfo(t, 'not.a.token')).status).toBe(401);
      const unsupported = await getAuthorize(t, authorizeParams(client, pkce().challenge, { response_type: 'token' }), userCookie);
      expect(locationParams(unsupported).params.error).toBe('unsupported_response_type');
      // The admin API with ids in its paths, an unknown path with an id, a prebuilt document.
      const missing = randomUUID();
      ids.push(missing);
      expect((await request(t.url).get(`/api/v1/users/${user.id}`).set('Cookie', admin)).status).toBe(200);
      expect((await request(t.url).get(`/api/v1/oauth2/apps/${client.id}`).set('Cookie', admin)).status).toBe(200);
      expect((await request(t.url).get(`/api/v1/users/${missing}`).set('Cookie', admin)).status).toBe(404);
      expect((await request(t.url).get(`/no-such-page/${missing}`)).status).toBe(404);
      expect((await request(t.url).get('/.well-known/oauth-authorization-server')).status).toBe(200);

      after = await scrape(t.url);
    });

    it('counts tokens issued by grant type', () => {
      const issued = (grant_type: string) => delta(before, after, 'portcullis_tokens_issued_total', { grant_type });
      expect([issued('authorization_code'), issued('refresh_token'), issued('client_credentials')]).toEqual([exchanges, 1, 1]);
    });

    it('counts protocol errors by endpoint and code', () => {
      const errors = (endpoint: string, error: string) => delta(before, after, 'portcullis_oauth_errors_total', { endpoint, error });
      expect(errors('token', 'invalid_grant')).toBe(2);
      expect(errors('token', 'invalid_client')).toBe(1);
      expect(errors('userinfo', 'invalid_token')).toBe(1);
      expect(errors('authorize', 'unsupported_response_type')).toBe(1);
      const all = after.samples.filter((s) => s.name === 'portcullis_oauth_errors_total').reduce((sum, s) => sum + s.value, 0);
      const earlier = before.samples.filter((s) => s.name === 'portcullis_oauth_errors_total').reduce((sum, s) => sum + s.value, 0);
      expect(all - earlier).toBe(5);
    });

    it('counts a refresh token reused and a code replayed, once each', () => {
      expect(delta(before, after, 'portcullis_refresh_token_reuse_total')).toBe(1);
      expect(delta(before, after, 'portcullis_authorization_code_replay_total')).toBe(1);
      expect(delta(before, after, 'portcullis_refresh_token_grace_answers_total')).toBe(0);
    });

    it('counts the cache of verified client secrets: a miss for the first use and for the wrong secret, hits after', () => {
      // With the secret: 2 exchanges, the replay, refresh, reuse, introspection, revocation, client credentials
      // (the first of them a miss), and the wrong secret (a miss).
      expect(delta(before, after, 'portcullis_client_auth_cache_total', { result: 'miss' })).toBe(2);
      expect(delta(before, after, 'portcullis_client_auth_cache_total', { result: 'hit' })).toBe(7);
    });

    it('counts requests by route template and status, with a latency histogram per route', () => {
      const requests = (labels: Record<string, string>) => delta(before, after, 'portcullis_http_requests_total', labels);
      expect(requests({ ...TOKEN, status: '200' })).toBe(exchanges + 2);
      expect(requests({ ...TOKEN, status: '400' })).toBe(2);
      expect(requests({ ...TOKEN, status: '401' })).toBe(1);
      expect(delta(before, after, 'portcullis_http_request_duration_seconds_count', TOKEN)).toBe(exchanges + 5);
      expect(delta(before, after, 'portcullis_http_request_duration_seconds_bucket', { ...TOKEN, le: '+Inf' })).toBe(exchanges + 5);
      expect(requests({ method: 'GET', route: '/api/v1/users/:id', status: '200' })).toBe(1);
      expect(requests({ method: 'GET', route: '/api/v1/users/:id', status: '404' })).toBe(1);
      expect(requests({ method: 'GET', route: '/api/v1/oauth2/apps/:id', status: '200' })).toBe(1);
      expect(requests({ method: 'GET', route: '/oauth2/userinfo', status: '401' })).toBe(1);
      expect(requests({ method: 'GET', route: '/.well-known/oauth-authorization-server', status: '200' })).toBe(1);
      expect(requests({ method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    });

    it('never puts a user, a token, a secret, an id or a raw path in a label', () => {
      const values = after.samples.flatMap((s: Sample) => Object.values(s.labels));
      expect(values.length).toBeGreaterThan(100);
      const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
      // Long runs of the token alphabet holding a digit: random values (route segments and heap space names have none).
      const tokenLike = /[A-Za-z0-9_-]{20,}/g;
      const offending = values.filter((v) => uuid.test(v) || (v.match(tokenLike) ?? []).some((run) => /\d/.test(run))
        || secrets.some((s) => v.includes(s)) || ids.some((id) => v.includes(id)) || v.includes('no-such-page'));
      expect(offending).toEqual([]);
      const routes = new Set(after.samples.filter((s) => s.name === 'portcullis_http_requests_total').map((s) => s.labels.route));
      for (const route of routes) expect(route === 'unmatched' || route.startsWith('/')).toBe(true);
    });
  });

  it('counts the rows housekeeping prunes, by table', async () => {
    const admin = await signIn(t);
    const app = await createApp(t, admin, { name: 'pruned-app' });
    await authorizeAndConsent(t, app, admin);
    await sql(t, `UPDATE authorization_codes SET expires_at = now() - interval '2 hours' WHERE access_token_jti IS NULL`);
    await sql(t, `INSERT INTO revoked_access_tokens (jti, expires_at) SELECT 'expired-' || n, now() - interval '1 minute' FROM generate_series(1, 3) n`);
    await sql(t, `INSERT INTO signing_keys (kid, status, public_jwk, private_key, publish_until) VALUES ('retired-long-ago', 'retired', '{}', 'x', now() - interval '1 minute')`);
    await sql(t, `UPDATE browser_sessions SET expires_at = now() - interval '1 second' WHERE id = (SELECT id FROM browser_sessions ORDER BY created_at LIMIT 1)`);
    const before = await scrape(t.url);
    const pruned = await t.app.get(MaintenanceService).prune();
    const sessions = await t.app.get(BrowserSessionsService).pruneExpired();
    const after = await scrape(t.url);
    const rows = (table: string) => delta(before, after, 'portcullis_pruned_rows_total', { table });
    expect({ codes: pruned.codes, sessions: sessions.rows }).toEqual({ codes: { rows: 1, batches: 1 }, sessions: 1 });
    expect({
      authorization_codes: rows('authorization_codes'), refresh_tokens: rows('refresh_tokens'), revoked_access_tokens: rows('revoked_access_tokens'),
      signing_keys: rows('signing_keys'), browser_sessions: rows('browser_sessions'), audit_events: rows('audit_events'),
    }).toEqual({ authorization_codes: 1, refresh_tokens: 0, revoked_access_tokens: 3, signing_keys: 1, browser_sessions: 1, audit_events: 0 });
    expect(after.samples.filter((s) => s.name === 'portcullis_pruned_rows_total').map((s) => s.labels.table).sort())
      .toEqual(['audit_events', 'authorization_codes', 'browser_sessions', 'refresh_tokens', 'revoked_access_tokens', 'signing_keys']);
  });
});

describe('/metrics with a refresh grace and dynamic registration', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp({ env: { OAUTH2_REFRESH_REUSE_GRACE: '30s', OAUTH2_DCR_ENABLED: 'true' } });
  });
  afterAll(() => t.close());

  it('counts a rotated refresh token answered again within the grace window, not as a reuse', async () => {
    const admin = await signIn(t);
    const client = await createApp(t, admin, { name: 'grace-app', grant_types: ['authorization_code', 'refresh_token'] });
    const tokens = await issueTokens(t, client, admin);
    expect((await refresh(t, client, tokens.refresh_token!)).status).toBe(200);
    const before = await scrape(t.url);
    expect((await refresh(t, client, tokens.refresh_token!)).status).toBe(200);
    const after = await scrape(t.url);
    expect(delta(before, after, 'portcullis_refresh_token_grace_answers_total')).toBe(1);
    expect(delta(before, after, 'portcullis_refresh_token_reuse_total')).toBe(0);
    expect(delta(before, after, 'portcullis_tokens_issued_total', { grant_type: 'refresh_token' })).toBe(1);
  });

  it('counts the self-registered apps the sweep removes', async () => {
    const registered = await registerApp(t);
    await sql(t, `UPDATE apps SET created_at = now() - interval '2 days' WHERE client_id = $1`, [registered.clientId]);
    const before = await scrape(t.url);
    expect(await t.app.get(DcrCleanupService, { strict: false }).sweep()).toBe(1);
    const after = await scrape(t.url);
    expect(delta(before, after, 'portcullis_pruned_rows_total', { table: 'apps' })).toBe(1);
  });
});

describe('/metrics switched off', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp({ env: { METRICS_ENABLED: 'false' } });
  });
  afterAll(() => t.close());

  it('answers 404 like any unknown path', async () => {
    const res = await request(t.url).get('/metrics');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  });

  it('opens no listener of its own', () => {
    expect(() => t.app.get(MetricsListener, { strict: false })).toThrow();
  });
});

describe('/metrics on METRICS_PORT', () => {
  let t: TestApp;
  let metricsUrl: string;
  beforeAll(async () => {
    t = await bootApp({ env: { METRICS_PORT: '0', HOST: '127.0.0.1' } });
    metricsUrl = `http://127.0.0.1:${t.app.get(MetricsListener, { strict: false }).port}`;
  });
  afterAll(() => t.close());

  it('is served on its own port, counting the requests of the main one', async () => {
    await request(t.url).get('/healthz').expect(200);
    const res = await scrape(metricsUrl);
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(valueOf(res.samples, 'portcullis_http_requests_total', { method: 'GET', route: '/healthz', status: '200' })).toBe(1);
  });

  it('answers 404 for /metrics on the main port', async () => {
    expect((await request(t.url).get('/metrics')).status).toBe(404);
  });

  it('serves nothing else on its own port', async () => {
    expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(404);
    expect((await fetch(`${metricsUrl}/metrics`, { method: 'POST' })).status).toBe(404);
  });
});
