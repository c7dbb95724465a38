import { decodeProtectedHeader } from 'jose';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { freePort, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { createTestDatabase, dropTestDatabase, sql } from '../helpers/database';
import { createUser, signIn } from '../helpers/identity';
import { authorizeParams, getAuthorize, pkce } from '../helpers/oauth';
import { issueTokens, pollUntil, refresh, Tokens, userinfo } from '../helpers/protocol';
import { ServerProcess } from '../helpers/server-process';

jest.setTimeout(240_000);

/** What the request helpers need of an instance: its URL. */
const instance = (url: string) => ({ url }) as TestApp;

/**
 * Issue 13 item 1, across instances: what one instance changes while another's LISTEN connection is down reaches
 * that other instance when it reconnects — not by the NOTIFY it never got, but by the resync that follows every
 * reconnect. Two server processes on one database; B's LISTEN connection logs in as a role of its own
 * (DATABASE_LISTEN_URL), so the test can cut exactly that connection and keep it out (NOLOGIN) while A rotates
 * the signing key, removes a redirect URI and deletes an app, then let it back in.
 */
describe('a change made while an instance’s listener is down holds there once it reconnects', () => {
  const role = `listener_b_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  let databaseUrl: string;
  let servers: ServerProcess[] = [];
  let exits: (number | null | undefined)[];
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let alice: string;
  let app: RegisteredApp;
  let doomed: RegisteredApp;
  let tokens: Tokens;
  let newKid: string;

  const db = () => ({ databaseUrl });
  /** B's listening connection, established and idle (a login being refused never gets that far). */
  const listenersOfB = () => sql<{ n: number }>(db(),
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND application_name = 'portcullis-listener' AND state = 'idle'`, [role])
    .then((rows) => rows[0].n);
  const kids = (t: TestApp) => request(t.url).get('/oauth2/jwks').then((r) => (r.body.keys as { kid: string }[]).map((k) => k.kid));
  const clientCredentials = (t: TestApp, client: RegisteredApp) =>
    request(t.url).post('/oauth2/token').type('form').set('Authorization', basic(client.clientId, client.clientSecret!)).send({ grant_type: 'client_credentials' });
  /** An authorization request naming the second redirect URI, which A removes. */
  const authorizeOther = (t: TestApp) =>
    getAuthorize(t, authorizeParams({ ...app, redirectUri: 'https://missed.example.com/other' }, pkce().challenge), alice);

  const expectCodeAtOther = (res: request.Response) => {
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(/^https:\/\/missed\.example\.com\/other\?code=/);
  };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    await sql(db(), `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    const listenUrl = new URL(databaseUrl);
    listenUrl.username = role;
    listenUrl.password = password;
    const ports = [await freePort(), await freePort()];
    const env = (port: number) => ({
      DATABASE_URL: databaseUrl, PORT: String(port), ISSUER_URL: `http://127.0.0.1:${ports[0]}`, BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
      SHUTDOWN_DRAIN_DELAY: '0',
    });
    servers = [new ServerProcess(env(ports[0])), new ServerProcess({ ...env(ports[1]), DATABASE_LISTEN_URL: listenUrl.toString(), LOG_LEVEL: 'info' })];
    exits = servers.map(() => undefined);
    servers.forEach((server, i) => void server.exited.then((code) => (exits[i] = code)));
    await Promise.all(servers.map((server, i) => server.waitUntilReady(`http://127.0.0.1:${ports[i]}/readyz`, 180_000)));
    [a, b] = ports.map((port) => instance(`http://127.0.0.1:${port}`));

    admin = await signIn(a);
    const user = await createUser(a, admin, { username: 'alice' });
    alice = await signIn(b, user.username, user.password);
    app = await createApp(a, admin, { name: 'missed', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://missed.example.com/cb', 'https://missed.example.com/other'] });
    doomed = await createApp(a, admin, { name: 'doomed', grant_types: ['client_credentials'], redirect_uris: undefined });
    tokens = await issueTokens(a, app, alice);
    // B holds both apps in its cache (Alice's consent is remembered: straight back to the client), and knows the key.
    expectCodeAtOther(await authorizeOther(b));
    expect((await clientCredentials(b, doomed)).status).toBe(200);
    expect((await userinfo(b, tokens.access_token)).status).toBe(200);
  });
  afterAll(async () => {
    for (const server of servers) server.kill('SIGTERM');
    await Promise.all(servers.map((server) => server.exited));
    await sql(db(), `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  it('B’s listener is cut and kept out while A rotates the key, removes a redirect URI and deletes an app; B misses the notifications', async () => {
    expect(await listenersOfB()).toBe(1);
    await sql(db(), `ALTER ROLE ${role} NOLOGIN`);
    const ended = await sql<{ ended: boolean }>(db(), `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE usename = $1`, [role]);
    expect(ended.map((r) => r.ended)).toEqual([true]);
    await pollUntil(listenersOfB, (n) => n === 0, 30_000);

    const rotated = await request(a.url).post('/api/v1/oauth2/keys/rotate').set('Cookie', admin);
    expect(rotated.status).toBe(200);
    newKid = rotated.body.kid;
    expect((await request(a.url).patch(`/api/v1/oauth2/apps/${app.id}`).set('Cookie', admin).send({ redirect_uris: ['https://missed.example.com/cb'] })).status).toBe(200);
    expect((await request(a.url).delete(`/api/v1/oauth2/apps/${doomed.id}`).set('Cookie', admin)).status).toBe(204);
    // A token signed with the new key, issued by A.
    const fresh = await refresh(a, app, tokens.refresh_token!);
    expect(fresh.status).toBe(200);
    tokens = fresh.body as Tokens;
    expect(decodeProtectedHeader(tokens.access_token).kid).toBe(newKid);

    // A knows at once; B, whose listener is still locked out, did not hear: it still publishes the old keys only
    // and still holds the app as it was (cached copies live up to five minutes when a change goes unheard).
    expect(await kids(a)).toContain(newKid);
    expect(await kids(b)).not.toContain(newKid);
    expectCodeAtOther(await authorizeOther(b));
    expect(await listenersOfB()).toBe(0);
  });

  describe('once B’s listener is let back in', () => {
    beforeAll(async () => {
      await sql(db(), `ALTER ROLE ${role} LOGIN`);
      await pollUntil(listenersOfB, (n) => n === 1, 60_000);
    });

    it('publishes the key rotated on A in its JWKS, reloaded by the resync', async () => {
      const { value } = await pollUntil(() => kids(b), (k) => k.includes(newKid), 30_000);
      expect(value).toContain(newKid);
    });

    it('accepts at userinfo the token A signed with the new key', async () => {
      const res = await userinfo(b, tokens.access_token);
      expect(res.status).toBe(200);
    });

    it('refuses the redirect URI removed on A: an error page, no redirect', async () => {
      const res = await authorizeOther(b);
      expect({ status: res.status, location: res.headers.location }).toEqual({ status: 400, location: undefined });
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    });

    it('refuses the app deleted on A: invalid_client', async () => {
      const res = await clientCredentials(b, doomed);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
    });

    it('kept running through it: one reconnect, nothing unhandled, no crash', () => {
      expect(exits).toEqual([undefined, undefined]);
      expect(servers[1].text.match(/notification connection re-established/g)).toHaveLength(1);
      expect(servers[1].text).not.toMatch(/unhandled|uncaught|"level":(50|60)/i);
    });
  });
});
