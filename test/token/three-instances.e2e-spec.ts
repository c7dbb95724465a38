import { decodeProtectedHeader } from 'jose';
import request from 'supertest';
import { TEST_ADMIN_PASSWORD, TestApp, freePort } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { createTestDatabase } from '../helpers/database';
import { createUser, postLogin, signIn } from '../helpers/identity';
import { authorizeAndConsent } from '../helpers/oauth';
import { exchange, pollUntil, refresh, revoke, Tokens, userinfo, WITH_REFRESH } from '../helpers/protocol';
import { ServerProcess } from '../helpers/server-process';

jest.setTimeout(240_000);

/** "Within one second" (issue 13 item 2) is what the notifications take; the bound is generous for a loaded machine. */
const AT_ONCE_MS = 10_000;

/** What the request helpers need of an instance: its URL. */
const instance = (url: string) => ({ url }) as TestApp;

/**
 * Issue 13 item 2: three server processes (the real entry point, random ports) on one database, as behind a load
 * balancer with no stickiness. One flow crosses all three; what one instance changes holds on the others.
 */
describe('three instances, one flow', () => {
  const servers: ServerProcess[] = [];
  let environment: (port: number) => Record<string, string>;
  let portsOf: number[];
  let a: TestApp;
  let b: TestApp;
  let c: TestApp;
  let admin: string;
  let alice: string;
  let app: RegisteredApp;

  beforeAll(async () => {
    const databaseUrl = await createTestDatabase();
    const ports = [await freePort(), await freePort(), await freePort()];
    // One issuer for all three (the balancer's URL); each listens on its own port.
    const env = (port: number) => ({
      DATABASE_URL: databaseUrl, PORT: String(port), ISSUER_URL: `http://127.0.0.1:${ports[0]}`, BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
      OAUTH2_DCR_ENABLED: 'true', OAUTH2_DCR_RATE_LIMIT: '4', SHUTDOWN_DRAIN_DELAY: '1s',
    });
    environment = env;
    portsOf = ports;
    // Started together: migrations and the bootstrap admin must happen once, whoever is first.
    servers.push(...ports.map((port) => new ServerProcess(env(port))));
    await Promise.all(servers.map((server, i) => server.waitUntilReady(`http://127.0.0.1:${ports[i]}/readyz`, 180_000)));
    [a, b, c] = ports.map((port) => instance(`http://127.0.0.1:${port}`));
    admin = await signIn(a);
    const user = await createUser(a, admin, { username: 'alice' });
    alice = await signIn(b, user.username, user.password);
    app = await createApp(a, admin, { name: 'three', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://three.example.com/cb', 'https://three.example.com/other'] });
  });
  afterAll(async () => {
    for (const server of servers) server.kill('SIGTERM');
    await Promise.all(servers.map((server) => server.exited));
  });

  let tokens: Tokens;

  it('mints a code on A, redeems it on B and refreshes on C', async () => {
    const { code, verifier } = await authorizeAndConsent(a, app, alice, WITH_REFRESH);
    const redeemed = await exchange(b, app, code, verifier);
    expect(redeemed.status).toBe(200);
    const refreshed = await refresh(c, app, redeemed.body.refresh_token);
    expect(refreshed.status).toBe(200);
    tokens = refreshed.body as Tokens;
    for (const t of [a, b, c]) expect((await userinfo(t, tokens.access_token)).status).toBe(200);
  });

  it('refuses on B and C, at once, an access token revoked on A', async () => {
    expect((await revoke(a, app, tokens.access_token)).status).toBe(200);
    for (const t of [b, c]) {
      const { value } = await pollUntil(() => userinfo(t, tokens.access_token).then((r) => r.status), (s) => s === 401, AT_ONCE_MS);
      expect(value).toBe(401);
    }
  });

  it('publishes a key rotated on A in the JWKS of B and C at once, and tokens it signs verify everywhere', async () => {
    const rotated = await request(a.url).post('/api/v1/oauth2/keys/rotate').set('Cookie', admin);
    expect(rotated.status).toBeLessThan(300);
    const kidOf = async (t: TestApp) => {
      const fresh = await refresh(t, app, tokens.refresh_token!);
      tokens = fresh.body as Tokens;
      return decodeProtectedHeader(tokens.access_token).kid;
    };
    const newKid = await kidOf(a);
    for (const t of [b, c]) {
      const { value } = await pollUntil(() => request(t.url).get('/oauth2/jwks').then((r) => (r.body.keys as { kid: string }[]).map((k) => k.kid)), (kids) => kids.includes(newKid!), AT_ONCE_MS);
      expect(value).toContain(newKid);
      expect((await userinfo(t, tokens.access_token)).status).toBe(200);
    }
  });

  it('holds an admin’s change on A on B and C at once: a rotated secret, a removed redirect URI, a deleted app', async () => {
    const other = await createApp(a, admin, { name: 'changing', grant_types: ['client_credentials'], redirect_uris: undefined });
    const credentials = (t: TestApp, secret: string) =>
      request(t.url).post('/oauth2/token').type('form').set('Authorization', basic(other.clientId, secret)).send({ grant_type: 'client_credentials' });
    for (const t of [b, c]) expect((await credentials(t, other.clientSecret!)).status).toBe(200);
    const rotated = await request(a.url).post(`/api/v1/oauth2/apps/${other.id}/secret`).set('Cookie', admin);
    for (const t of [b, c]) {
      const { value } = await pollUntil(() => credentials(t, other.clientSecret!).then((r) => r.status), (s) => s === 401, AT_ONCE_MS);
      expect(value).toBe(401);
      expect((await credentials(t, rotated.body.client_secret)).status).toBe(200);
    }

    await request(a.url).patch(`/api/v1/oauth2/apps/${app.id}`).set('Cookie', admin).send({ redirect_uris: ['https://three.example.com/cb'] });
    const authorizeOther = (t: TestApp) => request(t.url).get('/oauth2/authorize').redirects(0).set('Cookie', alice)
      .query({ response_type: 'code', client_id: app.clientId, redirect_uri: 'https://three.example.com/other', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    for (const t of [b, c]) {
      const { value } = await pollUntil(() => authorizeOther(t).then((r) => r.status), (s) => s === 400, AT_ONCE_MS);
      expect(value).toBe(400);
    }

    expect((await request(a.url).delete(`/api/v1/oauth2/apps/${other.id}`).set('Cookie', admin)).status).toBe(204);
    for (const t of [b, c]) {
      const { value } = await pollUntil(() => credentials(t, rotated.body.client_secret).then((r) => r.status), (s) => s === 401, AT_ONCE_MS);
      expect(value).toBe(401);
    }
  });

  it('holds the sign-in limit across the three: ten failures spread over A, B and C lock the account on all', async () => {
    const victim = await createUser(a, admin, { username: 'spread-out' });
    for (let i = 0; i < 10; i++) expect((await postLogin([a, b, c][i % 3], victim.username, `wrong-${i}`)).status).toBe(401);
    for (const t of [a, b, c]) expect((await postLogin(t, victim.username, victim.password)).status).toBe(429);
  });

  it('holds the registration limit across the three (OAUTH2_DCR_RATE_LIMIT=4 here)', async () => {
    const register = (t: TestApp) => request(t.url).post('/oauth2/register').send({ client_name: 'Agent', redirect_uris: ['https://agent.example/cb'] }).then((r) => r.status);
    const statuses = [await register(a), await register(b), await register(c), await register(a), await register(b), await register(c)];
    expect(statuses).toEqual([201, 201, 201, 201, 429, 429]);
  });

  it('loses no request while B is restarted under load behind a balancer that follows /readyz', async () => {
    // The balancer: sends to the instances whose /readyz said 200 at its last check, every 100 ms.
    const all = [a, b, c];
    const ready = new Set<TestApp>(all);
    let running = true;
    const checks = (async () => {
      while (running) {
        await Promise.all(all.map(async (t) => {
          const ok = await request(t.url).get('/readyz').timeout(5000).then((r) => r.status === 200, () => false);
          if (ok) ready.add(t);
          else ready.delete(t);
        }));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const failures: string[] = [];
    let served = 0;
    const clients = Array.from({ length: 4 }, async (_, n) => {
      for (let i = 0; running; i++) {
        const targets = [...ready];
        const t = targets[(i + n) % targets.length];
        if (!t) continue;
        const res = await request(t.url).get(i % 2 ? '/.well-known/oauth-authorization-server' : '/oauth2/jwks').timeout(10_000).then((r) => r.status, (e: Error) => e.message);
        if (res === 200) served++;
        else failures.push(`${t.url}: ${res}`);
      }
    });

    await new Promise((resolve) => setTimeout(resolve, 500));
    servers[1].kill('SIGTERM');
    expect(await servers[1].exited).toBe(0);
    servers[1] = new ServerProcess(environment(portsOf[1]));
    await servers[1].waitUntilReady(`${b.url}/readyz`, 180_000);
    await pollUntil(async () => ready.has(b), (back) => back, AT_ONCE_MS);
    await new Promise((resolve) => setTimeout(resolve, 500));
    running = false;
    await Promise.all([...clients, checks]);

    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(0);
    // And B, restarted, is part of the flow again: it accepts the tokens the others issued.
    expect((await userinfo(b, tokens.access_token)).status).toBe(200);
  });
});
