import { decodeProtectedHeader } from 'jose';
import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { createUser, signIn } from '../helpers/identity';
import { authorizeAndConsent } from '../helpers/oauth';

/** SPEC §7: a revoked token stops working on every instance at once — here, within a generous bound. */
/** Notifications arrive in milliseconds; the bound is generous so a loaded machine passes too (speed lives in bench/). */
const AT_ONCE_MS = 10_000;
const POLL_MS = 50;

interface Polled<T> {
  readonly value: T;
  readonly elapsed: number;
}

/** Polls every 50 ms until `done(value)`, giving up well after the limit so a failure shows how late it was. */
async function pollUntil<T>(probe: () => Promise<T>, done: (value: T) => boolean, giveUpMs = 5 * AT_ONCE_MS): Promise<Polled<T>> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    const elapsed = Date.now() - started;
    if (done(value) || elapsed > giveUpMs) return { value, elapsed };
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Two instances behind one load balancer: one issuer, one PostgreSQL, nothing else shared. */
describe('two instances on one database', () => {
  let a: TestApp;
  let b: TestApp;
  let adminAtA: string;
  let userAtA: string;
  let userAtB: string;
  let userId: string;
  let app: RegisteredApp;

  const userinfo = (t: TestApp, token: string) => request(t.url).get('/oauth2/userinfo').set('Authorization', `Bearer ${token}`);
  const revoke = (t: TestApp, token: string) =>
    request(t.url).post('/oauth2/revoke').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form').send({ token });
  const tokenRequest = (t: TestApp, body: Record<string, string>) =>
    request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form').send(body);
  const rotateAt = (t: TestApp) => request(t.url).post('/api/v1/oauth2/keys/rotate').set('Cookie', adminAtA);
  /** Two operators (or a scheduled job on every instance) rotating at the same moment: twice at each instance. */
  const simultaneousRotations = () => Promise.all([a, b, a, b].map(rotateAt));
  const principalToken = async (t: TestApp, cookie: string): Promise<string> => {
    const res = await request(t.url).get('/api/v1/oauth2/principal-token').set('Cookie', cookie);
    if (res.status !== 200) throw new Error(`principal token at ${t.url}: ${res.status} ${res.text}`);
    return res.body.access_token;
  };

  /** Tokens issued by instance A: authorize, consent and code exchange all at A. */
  async function tokensFromA(scope = 'openid profile offline_access'): Promise<{ access_token: string; refresh_token: string }> {
    const { code, verifier } = await authorizeAndConsent(a, app, userAtA, { scope });
    const res = await tokenRequest(a, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: app.redirectUri });
    if (res.status !== 200) throw new Error(`token request at A: ${res.status} ${res.text}`);
    return res.body;
  }

  beforeAll(async () => {
    a = await bootApp();
    b = await bootApp({ databaseUrl: a.databaseUrl, env: { ISSUER_URL: a.url } });
    adminAtA = await signIn(a);
    const alice = await createUser(a, adminAtA, { username: 'alice', given_name: 'Alice' });
    userId = alice.id;
    userAtA = await signIn(a, alice.username, alice.password);
    userAtB = await signIn(b, alice.username, alice.password);
    app = await createApp(a, adminAtA, { name: 'two-instances', grant_types: ['authorization_code', 'refresh_token'] });
  }, 180_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('accepts at B an access token issued by A', async () => {
    const { access_token } = await tokensFromA();
    const res = await userinfo(b, access_token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sub: userId, given_name: 'Alice' });
  });

  it('refuses at B, at once, an access token revoked at A', async () => {
    const { access_token } = await tokensFromA();
    expect((await userinfo(b, access_token)).status).toBe(200);
    expect((await revoke(a, access_token)).status).toBe(200);
    const { value: res, elapsed } = await pollUntil(() => userinfo(b, access_token), (r) => r.status === 401);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(elapsed).toBeLessThan(AT_ONCE_MS);
  });

  it('refuses at B, at once, the access token of a refresh token family revoked at A', async () => {
    const { access_token, refresh_token } = await tokensFromA();
    expect((await userinfo(b, access_token)).status).toBe(200);
    expect((await revoke(a, refresh_token)).status).toBe(200);
    const { value: res, elapsed } = await pollUntil(() => userinfo(b, access_token), (r) => r.status === 401);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(elapsed).toBeLessThan(AT_ONCE_MS);
  });

  it('refuses at B, at once, the access token minted by a refresh at B once A revoked the family', async () => {
    const first = await tokensFromA();
    const refreshed = await tokenRequest(b, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(refreshed.status).toBe(200);
    expect((await userinfo(b, refreshed.body.access_token)).status).toBe(200);
    expect((await revoke(a, refreshed.body.refresh_token)).status).toBe(200);
    const { value: res, elapsed } = await pollUntil(() => userinfo(b, refreshed.body.access_token), (r) => r.status === 401);
    expect(res.status).toBe(401);
    expect(elapsed).toBeLessThan(AT_ONCE_MS);
  });

  it('refuses at B a refresh token revoked at A', async () => {
    const { refresh_token } = await tokensFromA();
    expect((await revoke(a, refresh_token)).status).toBe(200);
    const res = await tokenRequest(b, { grant_type: 'refresh_token', refresh_token });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
  });

  it('signs at B with a key rotated at A, at once', async () => {
    const rotated = await rotateAt(a);
    expect(rotated.status).toBe(200);
    const { value: token, elapsed } = await pollUntil(() => principalToken(b, userAtB), (tk) => decodeProtectedHeader(tk).kid === rotated.body.kid);
    expect(decodeProtectedHeader(token).kid).toBe(rotated.body.kid);
    expect(elapsed).toBeLessThan(AT_ONCE_MS);
  });

  it("lists a key rotated at A in B's JWKS, beside the retired one, at once", async () => {
    const rotated = await rotateAt(a);
    expect(rotated.status).toBe(200);
    const kids = async () => ((await request(b.url).get('/oauth2/jwks')).body.keys as { kid: string }[]).map((k) => k.kid);
    const { value, elapsed } = await pollUntil(kids, (k) => k.includes(rotated.body.kid));
    expect(value).toEqual(expect.arrayContaining([rotated.body.kid, ...rotated.body.retired]));
    expect(elapsed).toBeLessThan(AT_ONCE_MS);
  });

  it('accepts at B a token that A signed with its new key right after the rotation', async () => {
    const rotated = await rotateAt(a);
    expect(rotated.status).toBe(200);
    const token = await principalToken(a, userAtA);
    expect(decodeProtectedHeader(token).kid).toBe(rotated.body.kid);
    const res = await userinfo(b, token);
    expect(res.status).toBe(200);
    expect(res.body.sub).toBe(userId);
  });

  it('still accepts at B a token signed before a rotation at A', async () => {
    const { access_token } = await tokensFromA();
    const rotated = await rotateAt(a);
    expect(rotated.status).toBe(200);
    expect(decodeProtectedHeader(access_token).kid).not.toBe(rotated.body.kid);
    expect((await userinfo(b, access_token)).status).toBe(200);
  });

  it('answers simultaneous rotations at A and B without a server error', async () => {
    const statuses = (await simultaneousRotations()).map((r) => r.status);
    // Each rotation either happens (200) or is refused as a conflict with the other (409); never a 500.
    expect(statuses.filter((status) => status !== 200 && status !== 409)).toEqual([]);
    expect(statuses).toContain(200);
  });

  it('leaves one active key after simultaneous rotations, and A and B both sign with it', async () => {
    await simultaneousRotations();
    const active = await sql<{ kid: string }>(a, `SELECT kid FROM signing_keys WHERE status = 'active'`);
    expect(active).toHaveLength(1);
    for (const [t, cookie] of [[a, userAtA], [b, userAtB]] as const) {
      const { value: token, elapsed } = await pollUntil(() => principalToken(t, cookie), (tk) => decodeProtectedHeader(tk).kid === active[0].kid);
      expect([t.url, decodeProtectedHeader(token).kid]).toEqual([t.url, active[0].kid]);
      expect(elapsed).toBeLessThan(AT_ONCE_MS);
    }
  });

  describe('apps and users served from memory', () => {
    /** A throwaway app, so changing it leaves the shared one alone; authenticated once at B so B holds it in memory. */
    async function appKnownToB(): Promise<RegisteredApp> {
      const fresh = await createApp(a, adminAtA, { name: 'cached', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://cached.example.com/cb', 'https://other.example.com/cb'] });
      expect((await bogusRefresh(b, fresh)).status).toBe(400);
      return fresh;
    }
    /** Client authentication passes (400 invalid_grant for the bogus token) or fails (401 invalid_client). */
    const bogusRefresh = (t: TestApp, client: RegisteredApp, secret = client.clientSecret!) =>
      request(t.url).post('/oauth2/token').set('Authorization', basic(client.clientId, secret)).type('form').send({ grant_type: 'refresh_token', refresh_token: 'bogus' });

    it('refuses at B, at once, a client secret rotated at A, and accepts the new one', async () => {
      const fresh = await appKnownToB();
      const rotated = await request(a.url).post(`/api/v1/oauth2/apps/${fresh.id}/secret`).set('Cookie', adminAtA);
      expect(rotated.status).toBe(200);
      const { value: old, elapsed } = await pollUntil(() => bogusRefresh(b, fresh), (r) => r.status === 401);
      expect(old.status).toBe(401);
      expect(old.body.error).toBe('invalid_client');
      expect(elapsed).toBeLessThan(AT_ONCE_MS);
      expect((await bogusRefresh(b, fresh, rotated.body.client_secret)).status).toBe(400);
      // The instance that rotated knows before it answers.
      expect((await bogusRefresh(a, fresh)).status).toBe(401);
    });

    it('refuses at B, at once, an app deleted at A', async () => {
      const fresh = await appKnownToB();
      expect((await request(a.url).delete(`/api/v1/oauth2/apps/${fresh.id}`).set('Cookie', adminAtA)).status).toBe(204);
      const { value: res, elapsed } = await pollUntil(() => bogusRefresh(b, fresh), (r) => r.status === 401);
      expect(res.status).toBe(401);
      expect(elapsed).toBeLessThan(AT_ONCE_MS);
    });

    it('refuses at B, at once, a redirect URI that A removed from the app', async () => {
      const fresh = await appKnownToB();
      const authorize = () => request(b.url).get('/oauth2/authorize').set('Cookie', userAtB).query({
        response_type: 'code', client_id: fresh.clientId, redirect_uri: 'https://other.example.com/cb', scope: 'profile',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 's',
      });
      expect((await authorize()).status).toBe(200);
      const patched = await request(a.url).patch(`/api/v1/oauth2/apps/${fresh.id}`).set('Cookie', adminAtA).send({ redirect_uris: ['https://cached.example.com/cb'] });
      expect(patched.status).toBe(200);
      const { value: res, elapsed } = await pollUntil(() => authorize(), (r) => r.status === 400);
      expect(res.status).toBe(400);
      expect(res.headers['location']).toBeUndefined();
      expect(elapsed).toBeLessThan(AT_ONCE_MS);
    });

    it("shows at B, at once, a user's name changed at A", async () => {
      const { access_token } = await tokensFromA('openid profile');
      expect((await userinfo(b, access_token)).body.given_name).toBe('Alice');
      expect((await request(a.url).patch(`/api/v1/users/${userId}`).set('Cookie', adminAtA).send({ given_name: 'Alicia' })).status).toBe(200);
      try {
        const { value: res, elapsed } = await pollUntil(() => userinfo(b, access_token), (r) => r.body.given_name === 'Alicia');
        expect(res.body.given_name).toBe('Alicia');
        expect(elapsed).toBeLessThan(AT_ONCE_MS);
      } finally {
        await request(a.url).patch(`/api/v1/users/${userId}`).set('Cookie', adminAtA).send({ given_name: 'Alice' });
      }
    });

    it("refuses at B, at once, a user's tokens once A gave them a new password", async () => {
      const bob = await createUser(a, adminAtA, { username: 'bob-cached' });
      const bobAtA = await signIn(a, bob.username, bob.password);
      const { code, verifier } = await authorizeAndConsent(a, app, bobAtA, { scope: 'openid profile' });
      const { access_token } = (await tokenRequest(a, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: app.redirectUri })).body;
      expect((await userinfo(b, access_token)).status).toBe(200);
      expect((await request(a.url).patch(`/api/v1/users/${bob.id}`).set('Cookie', adminAtA).send({ password: 'a-brand-new-password-1' })).status).toBe(200);
      const { value: res, elapsed } = await pollUntil(() => userinfo(b, access_token), (r) => r.status === 401);
      expect(res.status).toBe(401);
      expect(elapsed).toBeLessThan(AT_ONCE_MS);
    });
  });

  it('writes no private signing key to any log line, even when simultaneous rotations collide', async () => {
    const seen = { a: a.logs.lines.length, b: b.logs.lines.length };
    await simultaneousRotations();
    // SPEC §7: no secret in any log line. A PKCS#8 PEM always carries this marker.
    const leaks = (t: TestApp) => t.logs.lines.slice(t === a ? seen.a : seen.b).join('').split('\n').filter((line) => line.includes('PRIVATE KEY')).map((line) => {
      const entry = JSON.parse(line) as { level: number; context?: string; msg: string; req?: { url: string } };
      return `level ${entry.level} ${entry.context ?? ''} "${entry.msg}" during ${entry.req?.url ?? '-'}`;
    });
    expect({ a: leaks(a), b: leaks(b) }).toEqual({ a: [], b: [] });
  });
});
