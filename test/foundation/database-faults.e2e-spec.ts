import { decodeJwt } from 'jose';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import { bootApp, freePort, TestApp } from '../helpers/app';
import { createApp, RegisteredApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { cookiesOf, createUser, loginForm, postLogin, signIn } from '../helpers/identity';
import { authorizeAndConsent } from '../helpers/oauth';
import { PostgresProcess } from '../helpers/postgres-process';
import { exchange, issueTokens, myAuthorizations, pollUntil, refresh, Tokens, userinfo, WITH_REFRESH } from '../helpers/protocol';

jest.setTimeout(180_000);

/** Every request of this file gives up after this long: "nothing hangs past a bounded time". */
const REQUEST_BOUND_MS = 20_000;

/** The housekeeping jobs (HOUSEKEEPING_INTERVAL is 1 s here, so several runs fall inside the outage). */
const JOBS = ['prune expired browser sessions', 'prune expired rows', 'sweep unused self-registered apps'];

const sha256Hex = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');

/**
 * Issue 13 item 1: PostgreSQL stops mid-traffic and comes back. The server must answer 503 in each route's own
 * format while it is gone (never a 500, never a hang), then recover by itself — pool, LISTEN/NOTIFY with a resync,
 * scheduled jobs — with no restart, no lost grant and no code usable twice. The database is a cluster of this
 * file's own (the suite's shared one must stay up for the other files), stopped and started on the same port.
 */
describe('PostgreSQL stops mid-traffic and comes back', () => {
  let dir: string;
  let port: number;
  let db: PostgresProcess;
  let t: TestApp;
  let app: RegisteredApp;
  let aliceCookie: string;
  let alice: { username: string; password: string };
  let adminCookie: string;
  let tokens: Tokens;
  let pending: { code: string; verifier: string };
  /** What the background traffic got: status by phase. */
  const seen: Record<'before' | 'during' | 'after', number[]> = { before: [], during: [], after: [] };
  let phase: keyof typeof seen = 'before';
  let traffic: Promise<void> | undefined;
  let stopTraffic = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-faults-'));
    port = await freePort();
    db = await PostgresProcess.start(dir, 'faults', port);
    t = await bootApp({ databaseUrl: db.url, env: { DATABASE_CONNECT_TIMEOUT: '2s', DATABASE_STATEMENT_TIMEOUT: '10s', HOUSEKEEPING_INTERVAL: '1s' } });
    adminCookie = await signIn(t);
    alice = await createUser(t, adminCookie, { username: 'alice' });
    aliceCookie = await signIn(t, alice.username, alice.password);
    app = await createApp(t, adminCookie, { name: 'faulty', grant_types: ['authorization_code', 'refresh_token'] });
    tokens = await issueTokens(t, app, aliceCookie);
    const minted = await authorizeAndConsent(t, app, aliceCookie, WITH_REFRESH);
    pending = { code: minted.code, verifier: minted.verifier! };
  });
  afterAll(async () => {
    stopTraffic = true;
    await traffic;
    await t?.close();
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Mixed requests in a loop: discovery, userinfo, introspection-free reads and a client_credentials-free refresh probe. */
  function startTraffic(): void {
    traffic = (async () => {
      while (!stopTraffic) {
        const statuses = await Promise.all([
          request(t.url).get('/.well-known/oauth-authorization-server').timeout(REQUEST_BOUND_MS).then((r) => r.status, () => 0),
          userinfo(t, tokens.access_token).timeout(REQUEST_BOUND_MS).then((r) => r.status, () => 0),
          request(t.url).get('/api/v1/users').set('Cookie', adminCookie).timeout(REQUEST_BOUND_MS).then((r) => r.status, () => 0),
          request(t.url).get('/readyz').timeout(REQUEST_BOUND_MS).then((r) => r.status, () => 0),
        ]);
        seen[phase].push(...statuses);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
  }

  it('serves normally before the outage', async () => {
    startTraffic();
    await pollUntil(async () => seen.before.length, (n) => n >= 8);
    expect(seen.before.filter((s) => s !== 200)).toEqual([]);
  });

  describe('while PostgreSQL is stopped', () => {
    beforeAll(async () => {
      await db.stop();
      phase = 'during';
    });

    it('/readyz answers 503 at once', async () => {
      const res = await request(t.url).get('/readyz').timeout(REQUEST_BOUND_MS);
      expect(res.status).toBe(503);
    });

    it('the token endpoint answers 503 temporarily_unavailable with Retry-After, and the code is not spent', async () => {
      const res = await exchange(t, app, pending.code, pending.verifier).timeout(REQUEST_BOUND_MS);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      expect(res.headers['cache-control']).toBe('no-store');
      const refreshed = await refresh(t, app, tokens.refresh_token!).timeout(REQUEST_BOUND_MS);
      expect([refreshed.status, refreshed.body.error]).toEqual([503, 'temporarily_unavailable']);
    });

    it('/api answers a problem body', async () => {
      const res = await request(t.url).get('/api/v1/users').set('Cookie', adminCookie).timeout(REQUEST_BOUND_MS);
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(res.text)).toEqual({ type: 'internal_server_error', title: expect.any(String), status: 503, request_id: res.headers['x-request-id'] });
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
    });

    it('pages answer a human error page', async () => {
      const form = await loginForm(t);
      const login = await request(t.url).post('/login').set('Cookie', form.cookie).type('form')
        .send({ username: 'alice', password: 'whatever', csrf_token: form.csrfToken, return_to: '/' }).timeout(REQUEST_BOUND_MS);
      const apps = await request(t.url).get('/account/apps').set('Cookie', aliceCookie).timeout(REQUEST_BOUND_MS);
      for (const res of [login, apps]) {
        expect(res.status).toBe(503);
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        expect(res.text).toContain('Portcullis is briefly unavailable');
        expect(res.text).toContain(`<code>${res.headers['x-request-id']}</code>`);
      }
    });

    it('the housekeeping jobs due meanwhile fail softly: a warning per run, and the jobs stay scheduled', async () => {
      const skipped = () => new Set(t.logs.entries().filter((e) => e.msg === 'housekeeping job skipped: database unavailable').map((e) => e.job));
      const { value } = await pollUntil(async () => skipped(), (jobs) => jobs.size === JOBS.length, 60_000);
      expect([...value].sort()).toEqual(JOBS);
    });

    it('the background traffic got no 500 and no request hung', async () => {
      await pollUntil(async () => seen.during.length, (n) => n >= 8);
      expect(seen.during.filter((s) => s !== 200 && s !== 503)).toEqual([]);
      expect(seen.during).toContain(503);
    });
  });

  describe('after PostgreSQL is back, with no restart of the server', () => {
    beforeAll(async () => {
      db = await PostgresProcess.start(dir, 'faults', port);
      if (db.port !== port) throw new Error(`PostgreSQL came back on ${db.port}, not ${port}`);
      await pollUntil(() => request(t.url).get('/readyz').timeout(REQUEST_BOUND_MS).then((r) => r.status, () => 0), (s) => s === 200, 60_000);
      phase = 'after';
    });

    it('redeems the code minted before the outage exactly once', async () => {
      const first = await exchange(t, app, pending.code, pending.verifier);
      expect(first.status).toBe(200);
      const again = await exchange(t, app, pending.code, pending.verifier);
      expect([again.status, again.body.error]).toEqual([400, 'invalid_grant']);
    });

    it('refreshes, and keeps the grant recorded before the outage', async () => {
      const res = await refresh(t, app, tokens.refresh_token!);
      expect(res.status).toBe(200);
      tokens = res.body as Tokens;
      const grants = await myAuthorizations(t, { cookie: aliceCookie });
      expect(grants.body.items.map((g: { app_client_id: string }) => g.app_client_id)).toEqual([app.clientId]);
    });

    it('runs the housekeeping jobs again by themselves: expired rows written after the recovery are pruned', async () => {
      const stale = await authorizeAndConsent(t, app, aliceCookie, WITH_REFRESH);
      const login = await postLogin(t, alice.username, alice.password);
      const staleSession = cookiesOf(login).session_id.value;
      // Each write says it wrote: housekeeping runs every second here and may prune a row before a later read.
      const written = await Promise.all([
        sql(t, `UPDATE authorization_codes SET expires_at = now() - interval '2 hours' WHERE code_hash = $1 RETURNING 1`, [sha256Hex(stale.code)]),
        sql(t, `UPDATE browser_sessions SET expires_at = now() - interval '1 minute' WHERE id_hash = $1 RETURNING 1`, [sha256Hex(staleSession)]),
        sql(t, `INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ('expired-after-the-outage', now() - interval '1 minute') RETURNING 1`),
        sql(t, `INSERT INTO apps (client_id, name, display_name, provenance, org_id, created_at)
                SELECT 'never-used-after-the-outage', 'stale', 'Stale', 'dcr', id, now() - interval '2 days' FROM orgs LIMIT 1 RETURNING 1`),
      ]);
      expect(written.map((rows) => rows.length)).toEqual([1, 1, 1, 1]);
      const left = () => sql<{ codes: number; sessions: number; jtis: number; apps: number }>(t, `SELECT
          (SELECT count(*)::int FROM authorization_codes WHERE code_hash = $1) AS codes,
          (SELECT count(*)::int FROM browser_sessions WHERE id_hash = $2) AS sessions,
          (SELECT count(*)::int FROM revoked_access_tokens WHERE jti = 'expired-after-the-outage') AS jtis,
          (SELECT count(*)::int FROM apps WHERE client_id = 'never-used-after-the-outage') AS apps`, [sha256Hex(stale.code), sha256Hex(staleSession)]).then((rows) => rows[0]);
      const { value } = await pollUntil(left, (n) => n.codes + n.sessions + n.jtis + n.apps === 0, 60_000);
      expect(value).toEqual({ codes: 0, sessions: 0, jtis: 0, apps: 0 });
      // What is not expired stays: Alice's own session still works.
      expect((await myAuthorizations(t, { cookie: aliceCookie })).status).toBe(200);
    });

    it('the background traffic is served again, with no 5xx', async () => {
      await pollUntil(async () => seen.after.length, (n) => n >= 8);
      expect(seen.after.filter((s) => s !== 200)).toEqual([]);
    });

    it('a token revoked while the listener was down is refused once it reconnects', async () => {
      expect((await userinfo(t, tokens.access_token)).status).toBe(200);
      const { jti, exp } = decodeJwt(tokens.access_token);
      // In one transaction: end the server's listening connection, and deny the token the way another instance
      // would — but with no NOTIFY, which the server could not have heard anyway. Only the resync when the
      // listener reconnects can tell it.
      const sql = new Client({ connectionString: db.url });
      await sql.connect();
      try {
        // The listener reconnects with a backoff after the restart: wait for it, so it is its connection we end.
        const listening = () => sql.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'portcullis-listener'`).then((r) => r.rows[0].n as number);
        await pollUntil(listening, (n) => n >= 1, 30_000);
        await sql.query('BEGIN');
        const { rows } = await sql.query(`SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = 'portcullis-listener'`);
        expect(rows.length).toBeGreaterThanOrEqual(1);
        await sql.query(`INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, to_timestamp($2))`, [jti, exp]);
        await sql.query('COMMIT');
      } finally {
        await sql.end();
      }
      const { value } = await pollUntil(() => userinfo(t, tokens.access_token).then((r) => r.status), (s) => s === 401, 30_000);
      expect(value).toBe(401);
      expect(t.logs.text).toContain('notification connection re-established');
    });

    it('reconnected the listener once per lost connection: one resync each, however long the outage', async () => {
      // Two connections were lost: the one PostgreSQL's stop ended, and the one the previous test ended.
      const reconnects = async () => t.logs.entries().filter((e) => e.msg === 'notification connection re-established').length;
      await pollUntil(reconnects, (n) => n >= 2, 30_000);
      // A duplicated retry would fire within the longest backoff (5 s); wait well past it.
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      expect(await reconnects()).toBe(2);
    });

    it('logged no error through the outage and the recovery: every failure was an expected, retried one', () => {
      // Access-log lines of the 503s above are errors by status; what is asked here is that nothing else is.
      expect(t.logs.entries().filter((e) => (e.level as number) >= 50 && !('res' in e))).toEqual([]);
      expect([...new Set(t.logs.entries().filter((e) => e.msg === 'housekeeping job ran again').map((e) => e.job))].sort()).toEqual(JOBS);
    });
  });
});
