import request from 'supertest';
import { AppsService } from '../../src/clients/apps.service';
import { DcrCleanupService, SWEEP_BATCH_SIZE } from '../../src/clients/registration/dcr-cleanup.service';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, expectInvalidClient, RegisteredApp, tokenWithBasic } from '../helpers/clients';
import { sql } from '../helpers/database';
import { signIn } from '../helpers/identity';
import { authorizeAndConsent } from '../helpers/oauth';
import { exchange, introspect, issueTokens, refresh, registerApp, revoke, tokenRequest, WITH_REFRESH } from '../helpers/protocol';

/**
 * Issue 14 item 2, "a registry that stays clean": MCP clients register on every connect, so self-registered apps
 * pile up. The sweep removes those never used within OAUTH2_DCR_UNUSED_TTL and those idle past OAUTH2_DCR_IDLE_TTL
 * with no live refresh token — thousands at a time, in bounded batches, from every instance at once, while the
 * server keeps serving. A client it removed, like one never registered, gets 401 invalid_client at the token,
 * revocation and introspection endpoints, and registers again.
 *
 * The re-registration window is longer than OAUTH2_DCR_UNUSED_TTL here, so that only the sweep (not the window)
 * keeps a removed app from being handed back to a client registering the same metadata again.
 */
const ENV = {
  OAUTH2_DCR_ENABLED: 'true',
  OAUTH2_DCR_RATE_LIMIT: '0',
  OAUTH2_DCR_UNUSED_TTL: '1h',
  OAUTH2_DCR_IDLE_TTL: '1d',
  OAUTH2_DCR_REUSE_WINDOW: '60d',
};

const count = async (t: TestApp, text: string, params: unknown[] = []) => Number((await sql<{ n: string }>(t, text, params))[0].n);
const appsLike = (t: TestApp, prefix: string) => count(t, 'SELECT count(*) AS n FROM apps WHERE client_id LIKE $1', [`${prefix}%`]);
const appExists = async (t: TestApp, clientId: string) => (await count(t, 'SELECT count(*) AS n FROM apps WHERE client_id = $1', [clientId])) === 1;

/** A public agent's metadata, as an MCP client sends it. */
const agentMetadata = (name: string) => ({
  client_name: name,
  redirect_uris: ['http://127.0.0.1:33418/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  token_endpoint_auth_method: 'none',
  application_type: 'native',
});

describe('the sweep of unused self-registered apps, at scale', () => {
  let a: TestApp;
  let b: TestApp;
  let admin: string;

  beforeAll(async () => {
    a = await bootApp({ env: ENV });
    b = await bootApp({ env: ENV, databaseUrl: a.databaseUrl });
    admin = await signIn(a);
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  /** Doomed and kept apps by the thousand, written directly (generate_series), with their grants and refresh tokens. */
  const DOOMED = { unused: 5000, idle: 2000 };
  const KEPT = { recentlyUsed: 300, liveRefreshToken: 300, young: 300, api: 100, reviewed: 100 };
  /** The idle doomed apps that hold a grant and a refresh token that no longer lives. */
  const DOOMED_WITH_GRANTS = 1500;

  async function seed(orgId: string, userId: string): Promise<void> {
    const insertApps = (prefix: string, n: number, provenance: string, createdAgo: string, lastUsedAgo: string | null, reviewed = false) => sql(a,
      `INSERT INTO apps (client_id, name, display_name, provenance, org_id, redirect_uris, grant_types, token_endpoint_auth_method, application_type,
                         scopes, created_at, last_used_at, reviewed_at)
       SELECT $1::text || lpad(g::text, 5, '0'), 'Seeded agent ' || g, 'Seeded agent ' || g, $2::text, $3::uuid, '{http://127.0.0.1:33418/callback}', '{authorization_code,refresh_token}',
              'none', 'native', '{openid,offline_access}', now() - $4::interval,
              CASE WHEN $5::interval IS NULL THEN NULL ELSE now() - $5::interval END,
              CASE WHEN $6::boolean THEN now() - interval '1 day' END
         FROM generate_series(1, $7::int) g`,
      [prefix, provenance, orgId, createdAgo, lastUsedAgo, reviewed, n]);
    // Past OAUTH2_DCR_UNUSED_TTL (1 h) and never used.
    await insertApps('doomed-unused-', DOOMED.unused, 'dcr', '2 hours', null);
    // Used once, idle past OAUTH2_DCR_IDLE_TTL (1 d); some hold a refresh token that no longer lives.
    await insertApps('doomed-idle-', DOOMED.idle, 'dcr', '40 days', '2 days');
    await insertApps('kept-recently-used-', KEPT.recentlyUsed, 'dcr', '40 days', '10 minutes');
    await insertApps('kept-live-token-', KEPT.liveRefreshToken, 'dcr', '40 days', '2 days');
    await insertApps('kept-young-', KEPT.young, 'dcr', '10 minutes', null);
    await insertApps('kept-api-', KEPT.api, 'api', '90 days', null);
    await insertApps('kept-reviewed-', KEPT.reviewed, 'api', '90 days', null, true);

    await sql(a, `INSERT INTO grants (user_id, app_id, scopes)
                  SELECT $1::uuid, id, '{openid,offline_access}' FROM apps
                   WHERE client_id LIKE 'kept-live-token-%'
                      OR (client_id LIKE 'doomed-idle-%' AND client_id <= 'doomed-idle-' || lpad($2::text, 5, '0'))`, [userId, DOOMED_WITH_GRANTS]);
    // Live for the kept; for the doomed, by the last digit of their number: expired, revoked or rotated.
    await sql(a, `INSERT INTO refresh_tokens (token_hash, family_id, grant_id, app_id, user_id, scopes, expires_at, revoked_at, rotated_at)
                  SELECT encode(sha256(convert_to('seeded-' || g.id, 'UTF8')), 'hex'), gen_random_uuid(), g.id, g.app_id, g.user_id, g.scopes,
                         CASE WHEN s.kind = 'expired' THEN now() - interval '1 day' ELSE now() + interval '20 days' END,
                         CASE WHEN s.kind = 'revoked' THEN now() - interval '2 days' END,
                         CASE WHEN s.kind = 'rotated' THEN now() - interval '2 days' END
                    FROM grants g JOIN apps ON apps.id = g.app_id,
                         LATERAL (SELECT CASE WHEN apps.client_id LIKE 'kept-%' THEN 'live'
                                              WHEN right(apps.client_id, 1) IN ('0', '1', '2', '3') THEN 'expired'
                                              WHEN right(apps.client_id, 1) IN ('4', '5', '6') THEN 'revoked'
                                              ELSE 'rotated' END AS kind) s
                   WHERE apps.client_id LIKE 'kept-live-token-%' OR apps.client_id LIKE 'doomed-idle-%'`);
  }

  /** How many apps each DELETE statement on `apps` removed, recorded by a statement trigger in this test's database. */
  async function recordDeleteStatements(): Promise<void> {
    await sql(a, 'CREATE TABLE test_app_deletions (deleted int NOT NULL)');
    await sql(a, `CREATE FUNCTION test_count_app_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN INSERT INTO test_app_deletions SELECT count(*) FROM gone; RETURN NULL; END $$`);
    await sql(a, `CREATE TRIGGER test_count_app_deletions AFTER DELETE ON apps REFERENCING OLD TABLE AS gone
                  FOR EACH STATEMENT EXECUTE FUNCTION test_count_app_deletions()`);
  }

  it('removes exactly the unused apps, in batches, from two instances at once, while registrations and token requests go on', async () => {
    // Live clients: an agent mid-session (refreshing) and an admin-registered service (client_credentials).
    const agent = await registerApp(a, agentMetadata('Busy agent'));
    let refreshToken = (await issueTokens(a, agent, admin)).refresh_token!;
    const service = await createApp(a, admin, { name: 'service', grant_types: ['client_credentials'] });
    // An app reviewed through the admin API, registered long ago and never used.
    const toReview = await registerApp(a, agentMetadata('Reviewed agent'));
    const [{ id: reviewedId, org_id: orgId }] = await sql<{ id: string; org_id: string }>(a, 'SELECT id, org_id FROM apps WHERE client_id = $1', [toReview.clientId]);
    expect((await request(a.url).post(`/api/v1/oauth2/apps/${reviewedId}/review`).set('Cookie', admin)).status).toBe(200);
    await sql(a, `UPDATE apps SET created_at = now() - interval '90 days' WHERE id = $1`, [reviewedId]);

    const [{ id: userId }] = await sql<{ id: string }>(a, `SELECT id FROM users WHERE username = 'admin'`);
    await seed(orgId, userId);
    await recordDeleteStatements();
    const appsBefore = await count(a, 'SELECT count(*) AS n FROM apps');
    const grantsBefore = await count(a, 'SELECT count(*) AS n FROM grants');

    let sweeping = true;
    const sweeps = Promise.all([a, b].map((t) => t.app.get(DcrCleanupService).sweep())).finally(() => (sweeping = false));
    const failures: string[] = [];
    const expectStatus = (what: string, res: request.Response, status: number) => {
      if (res.status !== status) failures.push(`${what}: ${res.status} ${res.text}`);
      return res;
    };
    /** Runs `step` on A and B in turn until both sweeps are done, and at least `atLeast` times. */
    const alongside = async (atLeast: number, step: (t: TestApp, i: number) => Promise<unknown>) => {
      for (let i = 0; sweeping || i < atLeast; i++) await step(i % 2 === 0 ? a : b, i);
    };
    const recurring: string[] = [];
    const distinct: string[] = [];
    await Promise.all([
      sweeps,
      alongside(10, async (t, i) => {
        const again = expectStatus('recurring registration', await request(t.url).post('/oauth2/register').send(agentMetadata('Recurring agent')), 201);
        recurring.push(again.body.client_id);
        const other = expectStatus('new registration', await request(t.url).post('/oauth2/register').send(agentMetadata(`New agent ${i}`)), 201);
        distinct.push(other.body.client_id);
      }),
      alongside(10, async (t) => {
        expectStatus('client_credentials', await tokenWithBasic(t, service.clientId, service.clientSecret!), 200);
      }),
      alongside(4, async (t) => {
        const res = expectStatus('refresh', await refresh(t, agent, refreshToken), 200);
        refreshToken = res.body.refresh_token ?? refreshToken;
      }),
    ]);
    const removed = await sweeps;

    expect(failures).toEqual([]);
    // Exactly the doomed ones, each removed by one of the two.
    expect(removed[0] + removed[1]).toBe(DOOMED.unused + DOOMED.idle);
    expect(await appsLike(a, 'doomed-')).toBe(0);
    expect(await count(a, 'SELECT count(*) AS n FROM apps')).toBe(appsBefore - DOOMED.unused - DOOMED.idle + new Set([...recurring, ...distinct]).size);
    // Their grants (and the refresh tokens under them) went with them; the kept ones' stayed.
    expect(await count(a, 'SELECT count(*) AS n FROM grants')).toBe(grantsBefore - DOOMED_WITH_GRANTS);
    expect(await count(a, `SELECT count(*) AS n FROM refresh_tokens t JOIN apps ON apps.id = t.app_id WHERE apps.client_id LIKE 'kept-live-token-%'`))
      .toBe(KEPT.liveRefreshToken);
    // Everything else is still there.
    expect(await appsLike(a, 'kept-recently-used-')).toBe(KEPT.recentlyUsed);
    expect(await appsLike(a, 'kept-live-token-')).toBe(KEPT.liveRefreshToken);
    expect(await appsLike(a, 'kept-young-')).toBe(KEPT.young);
    expect(await appsLike(a, 'kept-api-')).toBe(KEPT.api);
    expect(await appsLike(a, 'kept-reviewed-')).toBe(KEPT.reviewed);
    for (const clientId of [agent.clientId, service.clientId, toReview.clientId, ...recurring, ...distinct]) expect(await appExists(a, clientId)).toBe(true);
    // The recurring agent was answered one client throughout; every other registration made its own.
    expect(new Set(recurring).size).toBe(1);
    expect(new Set(distinct).size).toBe(distinct.length);

    // No single huge statement: every DELETE removed at most one batch, so it took at least that many.
    const statements = (await sql<{ deleted: number }>(a, 'SELECT deleted FROM test_app_deletions WHERE deleted > 0')).map((r) => r.deleted);
    expect(Math.max(...statements)).toBeLessThanOrEqual(SWEEP_BATCH_SIZE);
    expect(statements.length).toBeGreaterThanOrEqual(Math.ceil((DOOMED.unused + DOOMED.idle) / SWEEP_BATCH_SIZE));
    expect(statements.reduce((sum, n) => sum + n, 0)).toBe(DOOMED.unused + DOOMED.idle);
  });

  describe('a client the sweep removed, or one never registered', () => {
    /** RFC 6749 §5.2: 401 with exactly `{error: invalid_client, error_description}`, not cacheable. */
    function expectRefused(res: request.Response): void {
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({ error: 'invalid_client', error_description: expect.stringMatching(/\S/) });
    }

    interface Connected {
      readonly client: RegisteredApp;
      readonly metadata: Record<string, unknown>;
      /** A code it was issued and never redeemed, and its verifier. */
      readonly code: string;
      readonly verifier: string;
      readonly refreshToken: string;
      readonly accessToken: string;
    }

    let agents = 0;
    /** An agent that registered, connected (tokens, and one more code it never redeemed), and went away. */
    async function connected(extra: Record<string, unknown> = {}): Promise<Connected> {
      const metadata = { ...agentMetadata(`Gone agent ${++agents}`), ...extra };
      const client = await registerApp(a, metadata);
      const tokens = await issueTokens(a, client, admin);
      const { code, verifier } = await authorizeAndConsent(a, client, admin, WITH_REFRESH);
      return { client, metadata, code, verifier, refreshToken: tokens.refresh_token!, accessToken: tokens.access_token };
    }

    /** A month later: its refresh token expired, its app idle past OAUTH2_DCR_IDLE_TTL; the sweep runs. */
    async function reap(client: RegisteredApp): Promise<void> {
      await a.app.get(AppsService).flushUsage();
      await sql(a, `UPDATE refresh_tokens SET expires_at = now() - interval '1 day' WHERE app_id = (SELECT id FROM apps WHERE client_id = $1)`, [client.clientId]);
      await sql(a, `UPDATE apps SET created_at = now() - interval '40 days', last_used_at = now() - interval '31 days' WHERE client_id = $1`, [client.clientId]);
      await a.app.get(DcrCleanupService).sweep();
      expect(await appExists(a, client.clientId)).toBe(false);
    }

    async function reapedClient(extra: Record<string, unknown> = {}): Promise<Connected> {
      const gone = await connected(extra);
      await reap(gone.client);
      return gone;
    }

    it('answers its authorization_code request with 401 invalid_client', async () => {
      const gone = await reapedClient();
      expectRefused(await exchange(a, gone.client, gone.code, gone.verifier));
    });

    it('answers its refresh_token request with its old refresh token with 401 invalid_client', async () => {
      const gone = await reapedClient();
      expectRefused(await refresh(a, gone.client, gone.refreshToken));
    });

    it('answers its revocation request with 401 invalid_client', async () => {
      const gone = await reapedClient();
      expectRefused(await revoke(a, gone.client, gone.refreshToken));
    });

    it('answers a removed confidential client with 401 invalid_client and WWW-Authenticate: Basic at the token, revocation and introspection endpoints', async () => {
      const gone = await reapedClient({ token_endpoint_auth_method: 'client_secret_basic', application_type: 'web', redirect_uris: ['https://gone.example/callback'] });
      expect(gone.client.clientSecret).toBeDefined();
      for (const res of [
        await exchange(a, gone.client, gone.code, gone.verifier),
        await refresh(a, gone.client, gone.refreshToken),
        await revoke(a, gone.client, gone.refreshToken),
        await introspect(a, gone.client, gone.accessToken),
      ]) {
        expectRefused(res);
        expectInvalidClient(res);
      }
    });

    it('introspects for a confidential client until the sweep removes it, then answers 401 invalid_client', async () => {
      const agent = await connected({ token_endpoint_auth_method: 'client_secret_basic', application_type: 'web', redirect_uris: ['https://introspecting.example/callback'] });
      expect((await introspect(a, agent.client, agent.accessToken)).status).toBe(200);
      await reap(agent.client);
      expectRefused(await introspect(a, agent.client, agent.accessToken));
    });

    it('answers a client_id never registered the same: 401 invalid_client, by client_id alone or with HTTP Basic', async () => {
      const stranger: RegisteredApp = { id: '', clientId: 'never-registered-client', redirectUri: 'http://127.0.0.1:33418/callback' };
      expectRefused(await tokenRequest(a, stranger, { grant_type: 'authorization_code', code: 'whatever', code_verifier: 'x'.repeat(43), redirect_uri: stranger.redirectUri }));
      expectRefused(await refresh(a, stranger, 'whatever'));
      expectRefused(await revoke(a, stranger, 'whatever'));
      const withBasic = await request(a.url).post('/oauth2/token').type('form').set('Authorization', basic(stranger.clientId, 'some-secret'))
        .send({ grant_type: 'refresh_token', refresh_token: 'whatever' });
      expectRefused(withBasic);
      expectInvalidClient(withBasic);
    });

    it('registers it again with the same metadata as a new client, which works', async () => {
      const gone = await reapedClient();
      const again = await request(a.url).post('/oauth2/register').send(gone.metadata);
      expect(again.status).toBe(201);
      expect(again.body.client_id).not.toBe(gone.client.clientId);
      expect(again.body).not.toHaveProperty('client_secret');
      const fresh: RegisteredApp = { id: again.body.client_id, clientId: again.body.client_id, redirectUri: again.body.redirect_uris[0] };
      const tokens = await issueTokens(a, fresh, admin);
      expect(tokens.refresh_token).toEqual(expect.any(String));
      expect((await refresh(a, fresh, tokens.refresh_token!)).status).toBe(200);
    });
  });
});
