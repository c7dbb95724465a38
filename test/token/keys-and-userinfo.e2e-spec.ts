import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, importPKCS8, JWTPayload, jwtVerify, SignJWT } from 'jose';
import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { createUser, signIn } from '../helpers/identity';
import { authorizeAndConsent, Params } from '../helpers/oauth';

interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  scope: string;
  id_token?: string;
}

const API_RESOURCE = 'https://api.example.com/';

/** A fresh remote key set each time: jose caches a JWKS, and these tests watch it change. */
const jwksOf = (t: TestApp) => createRemoteJWKSet(new URL(`${t.url}/oauth2/jwks`), { cacheMaxAge: 0, cooldownDuration: 0 });

/** Verifies an access token as an independent resource server would: RFC 9068 §4 with jose and the JWKS. */
async function verifyAccessToken(t: TestApp, token: string, audience: string = t.url) {
  return jwtVerify(token, jwksOf(t), { issuer: t.url, audience, typ: 'at+jwt', algorithms: ['ES256'] });
}

/** Authorize + consent over HTTP, then the code exchange with client_secret_basic. */
async function issueTokens(t: TestApp, app: RegisteredApp, cookie: string, authorize: Params = {}, exchange: Record<string, string> = {}): Promise<TokenResponse> {
  const { code, verifier } = await authorizeAndConsent(t, app, cookie, authorize);
  const res = await request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form')
    .send({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: app.redirectUri, ...exchange });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.text}`);
  return res.body as TokenResponse;
}

async function jwks(t: TestApp): Promise<{ keys: Record<string, unknown>[] }> {
  const res = await request(t.url).get('/oauth2/jwks');
  if (res.status !== 200) throw new Error(`JWKS answered ${res.status}`);
  return res.body;
}

const rotate = (t: TestApp, adminCookie: string) => request(t.url).post('/api/v1/oauth2/keys/rotate').set('Cookie', adminCookie);

describe('access tokens and the JWKS', () => {
  let t: TestApp;
  let app: RegisteredApp;
  let user: string;
  let userId: string;

  beforeAll(async () => {
    t = await bootApp({ env: { ACCESS_TOKEN_TTL: '600' } });
    const admin = await signIn(t);
    const alice = await createUser(t, admin, { username: 'alice' });
    userId = alice.id;
    user = await signIn(t, alice.username, alice.password);
    app = await createApp(t, admin, { name: 'rs-client', grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email offline_access' });
  });
  afterAll(() => t.close());

  it('signs access tokens ES256 with typ at+jwt and a kid published in the JWKS (RFC 9068 §2.1)', async () => {
    const { access_token } = await issueTokens(t, app, user, { scope: 'openid profile' });
    const header = decodeProtectedHeader(access_token);
    expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
    expect((await jwks(t)).keys.map((k) => k.kid)).toContain(header.kid);
  });

  it('verifies with jose against /oauth2/jwks and carries the RFC 9068 §2.2 claims', async () => {
    const { access_token } = await issueTokens(t, app, user, { scope: 'openid profile' });
    const { payload, protectedHeader } = await verifyAccessToken(t, access_token);
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toEqual({
      iss: t.url,
      sub: userId,
      aud: t.url,
      client_id: app.clientId,
      scope: 'openid profile',
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.any(String),
      auth_time: expect.any(Number),
    });
  });

  it('expires ACCESS_TOKEN_TTL after it was issued', async () => {
    const { access_token, expires_in } = await issueTokens(t, app, user);
    const { payload } = await verifyAccessToken(t, access_token);
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(expires_in).toBe(600);
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(10);
  });

  it('gives every access token its own jti', async () => {
    const first = decodeJwt((await issueTokens(t, app, user)).access_token);
    const second = decodeJwt((await issueTokens(t, app, user)).access_token);
    expect(first.jti).not.toBe(second.jti);
  });

  it('uses the RFC 8707 resource named on the authorization and token requests as the audience', async () => {
    const { access_token } = await issueTokens(t, app, user, { resource: API_RESOURCE }, { resource: API_RESOURCE });
    const { payload } = await verifyAccessToken(t, access_token, API_RESOURCE);
    expect(payload.aud).toBe(API_RESOURCE);
  });

  it('does not verify for the issuer audience once a resource was named', async () => {
    const { access_token } = await issueTokens(t, app, user, { resource: API_RESOURCE }, { resource: API_RESOURCE });
    await expect(verifyAccessToken(t, access_token, t.url)).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' });
  });

  it('publishes EC P-256 public keys only: no private part', async () => {
    const { keys } = await jwks(t);
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const key of keys) {
      expect(key).toEqual({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid: expect.any(String), alg: 'ES256', use: 'sig' });
      expect(key).not.toHaveProperty('d');
    }
  });

  it('answers the JWKS cross-origin, as JSON', async () => {
    const res = await request(t.url).get('/oauth2/jwks').set('Origin', 'https://spa.example');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });

  it('answers a CORS preflight for the JWKS', async () => {
    const res = await request(t.url).options('/oauth2/jwks').set('Origin', 'https://spa.example').set('Access-Control-Request-Method', 'GET');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('signing key rotation', () => {
  let t: TestApp;
  let admin: string;
  let app: RegisteredApp;
  let user: string;
  let before: TokenResponse;
  let oldKid: string;
  let rotation: request.Response;
  let after: TokenResponse;

  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
    const bob = await createUser(t, admin, { username: 'bob' });
    user = await signIn(t, bob.username, bob.password);
    app = await createApp(t, admin, { name: 'rotation-client', grant_types: ['authorization_code', 'refresh_token'] });
    before = await issueTokens(t, app, user);
    oldKid = decodeProtectedHeader(before.access_token).kid!;
    rotation = await rotate(t, admin);
    after = await issueTokens(t, app, user);
  });
  afterAll(() => t.close());

  it('answers the new kid and the retired one', () => {
    expect(rotation.status).toBe(200);
    expect(rotation.body).toEqual({ kid: expect.any(String), retired: [oldKid] });
    expect(rotation.body.kid).not.toBe(oldKid);
  });

  it('signs new tokens with the new key', async () => {
    expect(decodeProtectedHeader(after.access_token).kid).toBe(rotation.body.kid);
    await expect(verifyAccessToken(t, after.access_token)).resolves.toMatchObject({ protectedHeader: { kid: rotation.body.kid } });
  });

  it('still verifies a token signed before the rotation', async () => {
    await expect(verifyAccessToken(t, before.access_token)).resolves.toMatchObject({ protectedHeader: { kid: oldKid } });
  });

  it('lists the old and the new key in the JWKS', async () => {
    expect((await jwks(t)).keys.map((k) => k.kid).sort()).toEqual([oldKid, rotation.body.kid].sort());
  });

  it('still accepts a token signed before the rotation at userinfo', async () => {
    const res = await request(t.url).get('/oauth2/userinfo').set('Authorization', `Bearer ${before.access_token}`);
    expect(res.status).toBe(200);
  });

  it('is for admins only', async () => {
    const res = await rotate(t, user);
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('needs a caller', async () => {
    const res = await request(t.url).post('/api/v1/oauth2/keys/rotate');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });
});

describe('signing keys encrypted at rest (KEY_ENCRYPTION_SECRET)', () => {
  let t: TestApp;
  let admin: string;
  let app: RegisteredApp;
  let user: string;

  const keyRows = () => sql<{ kid: string; status: string; private_key: string; encrypted: boolean }>(t, 'SELECT kid, status, private_key, encrypted FROM signing_keys');

  beforeAll(async () => {
    t = await bootApp({ env: { KEY_ENCRYPTION_SECRET: 'a-secret-only-the-operator-knows' } });
    admin = await signIn(t);
    const carol = await createUser(t, admin, { username: 'carol' });
    user = await signIn(t, carol.username, carol.password);
    app = await createApp(t, admin, { name: 'encrypted-keys-client' });
  });
  afterAll(() => t.close());

  it('stores no PEM private key', async () => {
    const rows = await keyRows();
    expect(rows.length).toBeGreaterThanOrEqual(1);
    for (const row of rows) {
      expect(row.encrypted).toBe(true);
      expect(row.private_key).not.toMatch(/BEGIN|PRIVATE KEY|MII/);
    }
  });

  it('issues tokens that verify against the JWKS', async () => {
    const { access_token } = await issueTokens(t, app, user);
    await expect(verifyAccessToken(t, access_token)).resolves.toMatchObject({ payload: { iss: t.url } });
  });

  it('encrypts a rotated key too, and signs with it', async () => {
    const rotated = await rotate(t, admin);
    expect(rotated.status).toBe(200);
    const row = (await keyRows()).find((r) => r.kid === rotated.body.kid);
    expect(row).toMatchObject({ status: 'active', encrypted: true });
    expect(row!.private_key).not.toMatch(/BEGIN|PRIVATE KEY|MII/);
    const { access_token } = await issueTokens(t, app, user);
    await expect(verifyAccessToken(t, access_token)).resolves.toMatchObject({ protectedHeader: { kid: rotated.body.kid } });
  });
});

describe('/oauth2/userinfo', () => {
  let t: TestApp;
  let admin: string;
  let app: RegisteredApp;
  let user: string;
  let dana: { id: string; username: string; password: string };
  let registeredAt: number;

  const userinfo = (token: string, method: 'get' | 'post' = 'get') =>
    request(t.url)[method]('/oauth2/userinfo').set('Authorization', `Bearer ${token}`);
  const invalidToken = (res: request.Response) => {
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(res.body).toEqual({ error: 'invalid_token', error_description: expect.any(String) });
  };

  /** A token signed by the server's own active key (stored as PEM in this app): only its claims can be wrong. */
  async function signWithServerKey(claims: JWTPayload): Promise<string> {
    const [row] = await sql<{ kid: string; private_key: string }>(t, `SELECT kid, private_key FROM signing_keys WHERE status = 'active'`);
    const key = await importPKCS8(row.private_key, 'ES256');
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: row.kid }).sign(key);
  }
  const now = () => Math.floor(Date.now() / 1000);
  const wellFormedClaims = (): JWTPayload => ({
    iss: t.url, sub: dana.id, aud: t.url, client_id: app.clientId, scope: 'openid profile', iat: now(), exp: now() + 600, jti: `forged-${Math.random()}`,
  });

  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
    dana = await createUser(t, admin, { username: 'dana', given_name: 'Dana', family_name: 'Scully', email: 'dana@example.com' });
    registeredAt = Math.floor(Date.parse((await request(t.url).get(`/api/v1/users/${dana.id}`).set('Cookie', admin)).body.registered_at) / 1000);
    user = await signIn(t, dana.username, dana.password);
    app = await createApp(t, admin, { name: 'userinfo-client', grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email offline_access' });
  });
  afterAll(() => t.close());

  describe('claims by scope', () => {
    it.each([
      ['openid', {}],
      ['openid profile', { name: 'Dana Scully', given_name: 'Dana', family_name: 'Scully' }],
      ['openid email', { email: 'dana@example.com' }],
      ['openid profile email', { name: 'Dana Scully', given_name: 'Dana', family_name: 'Scully', email: 'dana@example.com' }],
    ])('answers exactly sub, registered_at and the claims of "%s"', async (scope, claims) => {
      const { access_token } = await issueTokens(t, app, user, { scope });
      const res = await userinfo(access_token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ sub: dana.id, registered_at: registeredAt, ...claims });
    });

    it('omits the claims a user has no value for, rather than answering null (OIDC Core §5.3.2)', async () => {
      const bare = await createUser(t, admin, { username: 'bare' });
      const { access_token } = await issueTokens(t, app, await signIn(t, bare.username, bare.password), { scope: 'openid profile email' });
      const res = await userinfo(access_token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ sub: bare.id, registered_at: expect.any(Number), name: 'bare' });
    });

    it('answers the same by POST', async () => {
      const { access_token } = await issueTokens(t, app, user, { scope: 'openid email' });
      const res = await userinfo(access_token, 'post');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ sub: dana.id, registered_at: registeredAt, email: 'dana@example.com' });
    });

    it('is JSON that may not be cached', async () => {
      const { access_token } = await issueTokens(t, app, user, { scope: 'openid' });
      const res = await userinfo(access_token);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('may not be cached when answered by POST either', async () => {
      const { access_token } = await issueTokens(t, app, user, { scope: 'openid' });
      expect((await userinfo(access_token, 'post')).headers['cache-control']).toBe('no-store');
    });

    it('answers cross-origin and lets a browser read WWW-Authenticate', async () => {
      const res = await request(t.url).get('/oauth2/userinfo').set('Origin', 'https://spa.example');
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.headers['access-control-expose-headers']).toMatch(/WWW-Authenticate/i);
    });
  });

  describe('RFC 6750 errors', () => {
    it('answers 401 with a Bearer challenge and no error code when no token is sent (§3.1)', async () => {
      const res = await request(t.url).get('/oauth2/userinfo');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.headers['www-authenticate']).not.toMatch(/error=/);
    });

    it('answers 401 to a POST without a token', async () => {
      const res = await request(t.url).post('/oauth2/userinfo');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    it('refuses a token given only in the query string', async () => {
      const { access_token } = await issueTokens(t, app, user, { scope: 'openid' });
      const res = await request(t.url).get('/oauth2/userinfo').query({ access_token });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.body.sub).toBeUndefined();
    });

    it.each([
      ['garbage', 'not-a-token'],
      ['three garbage segments', 'aaa.bbb.ccc'],
      ['an unsigned JWT', `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`],
    ])('refuses %s with invalid_token', async (_name, token) => {
      invalidToken(await userinfo(token));
    });

    it('accepts a token signed by its own key (the control for the forged tokens below)', async () => {
      const res = await userinfo(await signWithServerKey(wellFormedClaims()));
      expect(res.status).toBe(200);
      expect(res.body.sub).toBe(dana.id);
    });

    it('refuses an expired token with invalid_token', async () => {
      invalidToken(await userinfo(await signWithServerKey({ ...wellFormedClaims(), iat: now() - 1000, exp: now() - 100 })));
    });

    it('refuses a token with a tampered signature with invalid_token', async () => {
      const { access_token } = await issueTokens(t, app, user, { scope: 'openid' });
      const [header, payload, signature] = access_token.split('.');
      const flipped = Buffer.from(signature, 'base64url');
      flipped[10] ^= 0xff;
      invalidToken(await userinfo(`${header}.${payload}.${flipped.toString('base64url')}`));
    });

    it('refuses a token whose claims were changed after signing with invalid_token', async () => {
      const { access_token } = await issueTokens(t, app, user, { scope: 'openid' });
      const [header, payload, signature] = access_token.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'openid profile email' })).toString('base64url');
      invalidToken(await userinfo(`${header}.${widened}.${signature}`));
    });

    it('refuses a token signed by a key it did not publish with invalid_token', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const [{ kid }] = await sql<{ kid: string }>(t, `SELECT kid FROM signing_keys WHERE status = 'active'`);
      const forged = await new SignJWT(wellFormedClaims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(privateKey);
      invalidToken(await userinfo(forged));
    });

    it('refuses a token of another issuer with invalid_token', async () => {
      invalidToken(await userinfo(await signWithServerKey({ ...wellFormedClaims(), iss: 'https://elsewhere.example' })));
    });

    it('refuses a revoked token with invalid_token', async () => {
      const { access_token } = await issueTokens(t, app, user, { scope: 'openid' });
      expect((await userinfo(access_token)).status).toBe(200);
      const revoked = await request(t.url).post('/oauth2/revoke').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form').send({ token: access_token });
      expect(revoked.status).toBe(200);
      invalidToken(await userinfo(access_token));
    });

    it('refuses a token issued for another resource (RFC 8707) with invalid_token', async () => {
      const { access_token } = await issueTokens(t, app, user, { scope: 'openid profile', resource: API_RESOURCE }, { resource: API_RESOURCE });
      expect(decodeJwt(access_token).aud).toBe(API_RESOURCE);
      invalidToken(await userinfo(access_token));
    });

    it('refuses a client_credentials token, which is about no user, with invalid_token', async () => {
      const machine = await createApp(t, admin, { name: 'machine', grant_types: ['client_credentials'], redirect_uris: ['https://machine.example.com/cb'] });
      const res = await request(t.url).post('/oauth2/token').set('Authorization', basic(machine.clientId, machine.clientSecret!)).type('form')
        .send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).sub).toBe(machine.clientId);
      invalidToken(await userinfo(res.body.access_token));
    });

    it('refuses the token of a deleted user with invalid_token', async () => {
      const gone = await createUser(t, admin, { username: 'gone' });
      const { access_token } = await issueTokens(t, app, await signIn(t, gone.username, gone.password), { scope: 'openid' });
      expect((await userinfo(access_token)).status).toBe(200);
      expect((await request(t.url).delete(`/api/v1/users/${gone.id}`).set('Cookie', admin)).status).toBe(204);
      invalidToken(await userinfo(access_token));
    });

    it('refuses an ID token presented as an access token with invalid_token', async () => {
      const { id_token } = await issueTokens(t, app, user, { scope: 'openid' });
      invalidToken(await userinfo(id_token!));
    });
  });
});

describe('access tokens on the admin API (scope admin)', () => {
  let t: TestApp;
  let admin: string;
  let adminConsole: RegisteredApp;

  /** A second admin (so that demoting one is allowed) signed in, and a token for them with `scope`. */
  async function adminToken(username: string, scope: string): Promise<{ id: string; token: string }> {
    const created = await createUser(t, admin, { username, role: 'admin' });
    const cookie = await signIn(t, created.username, created.password);
    const { access_token } = await issueTokens(t, adminConsole, cookie, { scope });
    return { id: created.id, token: access_token };
  }
  const listUsers = (token: string) => request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${token}`);

  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
    adminConsole = await createApp(t, admin, { name: 'admin-console', grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile account admin' });
  });
  afterAll(() => t.close());

  it("works as a bearer on /api/v1/users with the admin scope and an admin's token", async () => {
    const { token } = await adminToken('erin', 'openid admin');
    const res = await listUsers(token);
    expect(res.status).toBe(200);
    expect(res.body.items.map((u: { username: string }) => u.username)).toEqual(expect.arrayContaining(['admin', 'erin']));
  });

  it('answers 403 insufficient_scope, naming the scope, without the admin scope', async () => {
    const { token } = await adminToken('frank', 'openid account');
    const res = await listUsers(token);
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect(res.headers['www-authenticate']).toContain('scope="admin"');
    expect(res.body).toMatchObject({ type: 'forbidden', status: 403 });
  });

  it('stops working at once when the user is demoted: the demotion ends every token the user holds (SPEC §7)', async () => {
    const { id, token } = await adminToken('gina', 'openid admin');
    expect((await listUsers(token)).status).toBe(200);
    const demoted = await request(t.url).patch(`/api/v1/users/${id}`).set('Cookie', admin).send({ role: 'user' });
    expect(demoted.status).toBe(200);
    expect(demoted.body.role).toBe('user');
    const res = await listUsers(token);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ type: 'unauthorised', status: 401 });
  });

  it('refuses a token issued for another resource (RFC 8707) on the admin API', async () => {
    const created = await createUser(t, admin, { username: 'hank', role: 'admin' });
    const cookie = await signIn(t, created.username, created.password);
    const { access_token } = await issueTokens(t, adminConsole, cookie, { scope: 'openid admin', resource: API_RESOURCE }, { resource: API_RESOURCE });
    const res = await listUsers(access_token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('refuses a revoked token on the admin API', async () => {
    const { token } = await adminToken('ivan', 'openid admin');
    expect((await listUsers(token)).status).toBe(200);
    await request(t.url).post('/oauth2/revoke').set('Authorization', basic(adminConsole.clientId, adminConsole.clientSecret!)).type('form').send({ token });
    const res = await listUsers(token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  });
});
