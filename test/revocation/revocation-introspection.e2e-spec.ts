import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { createHash } from 'node:crypto';
import request from 'supertest';
import { Clock } from '../../src/common/clock';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { createUser, signIn } from '../helpers/identity';
import { authorizeAndConsent } from '../helpers/oauth';

/**
 * Token revocation (RFC 7009) and introspection (RFC 7662), and refresh-token rotation as seen through them
 * (SPEC §4), over real HTTP against real PostgreSQL.
 */

const SCOPE = 'openid profile offline_access';
const GRANT_TYPES = ['authorization_code', 'refresh_token'];
const INACTIVE = { active: false };
const error = (code: string) => ({ error: code, error_description: expect.any(String) });
const hash = (value: string) => createHash('sha256').update(value).digest('hex');

type Body = Record<string, string | undefined>;

interface Issued {
  readonly access_token: string;
  readonly refresh_token: string;
}

/** Everything a describe needs: its own app, a signed-in user, and its clients. */
interface World {
  t: TestApp;
  userId: string;
  user: string;
  /** Confidential (client_secret_basic). */
  app: RegisteredApp;
  /** Another confidential client of the same user. */
  other: RegisteredApp;
  /** Public: token_endpoint_auth_method "none". */
  publicApp: RegisteredApp;
}

async function setUp(): Promise<World> {
  const t = await bootApp();
  const admin = await signIn(t);
  const alice = await createUser(t, admin, { username: 'alice' });
  const user = await signIn(t, alice.username, alice.password);
  const app = await createApp(t, admin, { name: 'main', grant_types: GRANT_TYPES, scope: SCOPE });
  const other = await createApp(t, admin, { name: 'other', grant_types: GRANT_TYPES, scope: SCOPE, redirect_uris: ['https://other.example.com/cb'] });
  const publicApp = await createApp(t, admin, {
    name: 'public', grant_types: GRANT_TYPES, scope: SCOPE, token_endpoint_auth_method: 'none', redirect_uris: ['https://public.example.com/cb'],
  });
  return { t, userId: alice.id, user, app, other, publicApp };
}

/** Client authentication: HTTP Basic for a confidential client, `client_id` in the body for a public one. */
function post(w: World, path: string, client: RegisteredApp, body: Body, json = false): request.Test {
  const req = request(w.t.url).post(path);
  const authenticated = client.clientSecret ? req.set('Authorization', basic(client.clientId, client.clientSecret)) : req;
  const payload = client.clientSecret ? body : { client_id: client.clientId, ...body };
  return json ? authenticated.send(payload) : authenticated.type('form').send(payload);
}

const tokenRequest = (w: World, client: RegisteredApp, body: Body) => post(w, '/oauth2/token', client, body);
const revoke = (w: World, client: RegisteredApp, body: Body, json = false) => post(w, '/oauth2/revoke', client, body, json);
const introspect = (w: World, client: RegisteredApp, body: Body) => post(w, '/oauth2/introspect', client, body);
const refresh = (w: World, client: RegisteredApp, refreshToken: string) =>
  tokenRequest(w, client, { grant_type: 'refresh_token', refresh_token: refreshToken });
const userinfo = (w: World, accessToken: string) => request(w.t.url).get('/oauth2/userinfo').set('Authorization', `Bearer ${accessToken}`);

/** A fresh code for `client`, as the user consented to it. */
async function authorize(w: World, client: RegisteredApp): Promise<{ code: string; verifier: string }> {
  return authorizeAndConsent(w.t, client, w.user, { scope: SCOPE });
}

function exchange(w: World, client: RegisteredApp, code: string, verifier: string): request.Test {
  return tokenRequest(w, client, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: client.redirectUri });
}

/** A fresh access token and refresh token of `client`, through the real code flow. */
async function issue(w: World, client: RegisteredApp): Promise<Issued> {
  const { code, verifier } = await authorize(w, client);
  const res = await exchange(w, client, code, verifier);
  if (res.status !== 200 || !res.body.refresh_token) throw new Error(`token exchange failed: ${res.status} ${res.text}`);
  return res.body as Issued;
}

/** Uses a refresh token once; answers the new pair. */
async function rotate(w: World, client: RegisteredApp, refreshToken: string): Promise<Issued> {
  const res = await refresh(w, client, refreshToken);
  if (res.status !== 200) throw new Error(`refresh failed: ${res.status} ${res.text}`);
  return res.body as Issued;
}

async function familyOf(w: World, refreshToken: string): Promise<string> {
  const [row] = await sql<{ family_id: string }>(w.t, 'SELECT family_id FROM refresh_tokens WHERE token_hash = $1', [hash(refreshToken)]);
  if (!row) throw new Error('refresh token not stored');
  return row.family_id;
}

/** Runs `fn` with the app's clock `seconds` ahead: the tokens issued before then are past their expiry. */
async function later<T>(w: World, seconds: number, fn: () => Promise<T>): Promise<T> {
  const clock = w.t.app.get(Clock);
  const now = jest.spyOn(clock, 'now').mockImplementation(() => new Date(Date.now() + seconds * 1000));
  const nowSeconds = jest.spyOn(clock, 'nowSeconds').mockImplementation(() => Math.floor(Date.now() / 1000) + seconds);
  try {
    return await fn();
  } finally {
    now.mockRestore();
    nowSeconds.mockRestore();
  }
}

/** Expects 200, an empty body, and no caching: RFC 7009 §2.2. */
function expectRevokeOk(res: request.Response): void {
  expect(res.status).toBe(200);
  expect(res.text).toBe('');
}

describe('POST /oauth2/revoke', () => {
  let w: World;
  beforeAll(async () => {
    w = await setUp();
  });
  afterAll(() => w.t.close());

  describe('a refresh token of this client', () => {
    it('answers 200 with an empty body, not cacheable', async () => {
      const { refresh_token } = await issue(w, w.app);
      const res = await revoke(w, w.app, { token: refresh_token });
      expectRevokeOk(res);
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('is refused at the token endpoint afterwards', async () => {
      const { refresh_token } = await issue(w, w.app);
      expectRevokeOk(await revoke(w, w.app, { token: refresh_token }));
      const res = await refresh(w, w.app, refresh_token);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(error('invalid_grant'));
    });

    it('introspects inactive afterwards', async () => {
      const { refresh_token } = await issue(w, w.app);
      expectRevokeOk(await revoke(w, w.app, { token: refresh_token }));
      expect((await introspect(w, w.app, { token: refresh_token })).body).toEqual(INACTIVE);
    });

    it('revokes the family: revoking the rotated parent kills the live child', async () => {
      const first = await issue(w, w.app);
      const child = await rotate(w, w.app, first.refresh_token);
      expectRevokeOk(await revoke(w, w.app, { token: first.refresh_token }));
      const res = await refresh(w, w.app, child.refresh_token);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(error('invalid_grant'));
    });

    it('revokes the family: revoking the child kills the rotated parent too', async () => {
      const first = await issue(w, w.app);
      const child = await rotate(w, w.app, first.refresh_token);
      expectRevokeOk(await revoke(w, w.app, { token: child.refresh_token }));
      expect((await refresh(w, w.app, child.refresh_token)).body).toEqual(error('invalid_grant'));
      expect((await refresh(w, w.app, first.refresh_token)).body).toEqual(error('invalid_grant'));
    });

    it('denies the access token issued with it at userinfo', async () => {
      const { access_token, refresh_token } = await issue(w, w.app);
      expect((await userinfo(w, access_token)).status).toBe(200);
      expectRevokeOk(await revoke(w, w.app, { token: refresh_token }));
      const res = await userinfo(w, access_token);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(error('invalid_token'));
      expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    });

    it('shows the access token issued with it inactive at introspection', async () => {
      const { access_token, refresh_token } = await issue(w, w.app);
      expectRevokeOk(await revoke(w, w.app, { token: refresh_token }));
      const res = await introspect(w, w.app, { token: access_token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(INACTIVE);
    });

    it('denies the access token minted by a later rotation of the family', async () => {
      const first = await issue(w, w.app);
      const child = await rotate(w, w.app, first.refresh_token);
      expectRevokeOk(await revoke(w, w.app, { token: child.refresh_token }));
      expect((await userinfo(w, child.access_token)).status).toBe(401);
    });
  });

  describe('an access token of this client', () => {
    it('is refused at userinfo afterwards', async () => {
      const { access_token } = await issue(w, w.app);
      expect((await userinfo(w, access_token)).status).toBe(200);
      expectRevokeOk(await revoke(w, w.app, { token: access_token }));
      const res = await userinfo(w, access_token);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(error('invalid_token'));
    });

    it('introspects inactive afterwards', async () => {
      const { access_token } = await issue(w, w.app);
      expectRevokeOk(await revoke(w, w.app, { token: access_token }));
      expect((await introspect(w, w.app, { token: access_token })).body).toEqual(INACTIVE);
    });

    it('is accepted as JSON as well as form-encoded', async () => {
      const { access_token } = await issue(w, w.app);
      const res = await revoke(w, w.app, { token: access_token }, true);
      expectRevokeOk(res);
      expect(res.headers['cache-control']).toBe('no-store');
      expect((await userinfo(w, access_token)).status).toBe(401);
    });
  });

  describe('tokens that change nothing still get 200', () => {
    it('an unknown token', async () => {
      expectRevokeOk(await revoke(w, w.app, { token: 'kx0Yq7aWcK1n2xS3VJ0m8y2ZlQh5-uA6tC9pE4bR1fD' }));
    });

    it.each([
      ['garbage', 'not a token at all'],
      ['three dots but no JWT', 'a.b.c'],
      ['a JWT with a broken header', 'eyJub3QiOiJqc29u.e30.c2ln'],
      ['percent signs', '%%%'],
    ])('a malformed token (%s)', async (_name, token) => {
      expectRevokeOk(await revoke(w, w.app, { token }));
    });

    it('an already revoked refresh token', async () => {
      const { refresh_token } = await issue(w, w.app);
      expectRevokeOk(await revoke(w, w.app, { token: refresh_token }));
      expectRevokeOk(await revoke(w, w.app, { token: refresh_token }));
    });

    it('an already revoked access token', async () => {
      const { access_token } = await issue(w, w.app);
      expectRevokeOk(await revoke(w, w.app, { token: access_token }));
      expectRevokeOk(await revoke(w, w.app, { token: access_token }));
    });

    it('an expired refresh token', async () => {
      const { refresh_token } = await issue(w, w.app);
      await sql(w.t, `UPDATE refresh_tokens SET expires_at = now() - interval '1 hour' WHERE token_hash = $1`, [hash(refresh_token)]);
      expectRevokeOk(await revoke(w, w.app, { token: refresh_token }));
    });

    it('an expired access token of this client', async () => {
      const { access_token } = await issue(w, w.app);
      expectRevokeOk(await later(w, 3600, () => revoke(w, w.app, { token: access_token })));
    });

    it('an expired-looking access token (exp in the past, signed by a stranger)', async () => {
      const { access_token } = await issue(w, w.app);
      const { kid } = decodeProtectedHeader(access_token);
      const { privateKey } = await generateKeyPair('ES256');
      const now = Math.floor(Date.now() / 1000);
      const forged = await new SignJWT({ client_id: w.app.clientId, scope: SCOPE })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .setIssuer(w.t.url).setSubject(w.userId).setAudience(w.t.url).setJti('expired-looking')
        .setIssuedAt(now - 7200).setExpirationTime(now - 3600)
        .sign(privateKey);
      expectRevokeOk(await revoke(w, w.app, { token: forged }));
    });
  });

  describe("another client's token: 200, and nothing is revoked", () => {
    it('answers 200 for the refresh token of another client', async () => {
      const theirs = await issue(w, w.other);
      expectRevokeOk(await revoke(w, w.app, { token: theirs.refresh_token }));
    });

    it('leaves the owner able to refresh', async () => {
      const theirs = await issue(w, w.other);
      expectRevokeOk(await revoke(w, w.app, { token: theirs.refresh_token }));
      const res = await refresh(w, w.other, theirs.refresh_token);
      expect(res.status).toBe(200);
    });

    it("leaves the access token issued with the other client's refresh token usable", async () => {
      const theirs = await issue(w, w.other);
      expectRevokeOk(await revoke(w, w.app, { token: theirs.refresh_token }));
      expect((await userinfo(w, theirs.access_token)).status).toBe(200);
    });

    it('answers 200 for the access token of another client', async () => {
      const theirs = await issue(w, w.other);
      expectRevokeOk(await revoke(w, w.app, { token: theirs.access_token }));
    });

    it('leaves the owner able to use it at userinfo', async () => {
      const theirs = await issue(w, w.other);
      expectRevokeOk(await revoke(w, w.app, { token: theirs.access_token }));
      expect((await userinfo(w, theirs.access_token)).status).toBe(200);
    });

    it('leaves it active at introspection', async () => {
      const theirs = await issue(w, w.other);
      expectRevokeOk(await revoke(w, w.app, { token: theirs.access_token }));
      expect((await introspect(w, w.other, { token: theirs.access_token })).body).toMatchObject({ active: true });
    });
  });

  describe('token_type_hint is only a hint', () => {
    it.each(['refresh_token', 'id_token', 'no-such-type'])('revokes an access token sent with token_type_hint=%s', async (hint) => {
      const { access_token } = await issue(w, w.app);
      expectRevokeOk(await revoke(w, w.app, { token: access_token, token_type_hint: hint }));
      expect((await userinfo(w, access_token)).status).toBe(401);
    });

    it.each(['access_token', 'id_token', 'no-such-type'])('revokes a refresh token sent with token_type_hint=%s', async (hint) => {
      const { refresh_token } = await issue(w, w.app);
      expectRevokeOk(await revoke(w, w.app, { token: refresh_token, token_type_hint: hint }));
      expect((await refresh(w, w.app, refresh_token)).body).toEqual(error('invalid_grant'));
    });
  });

  describe('bad requests', () => {
    it('refuses a missing token with 400 invalid_request, not cacheable', async () => {
      const res = await revoke(w, w.app, {});
      expect(res.status).toBe(400);
      expect(res.body).toEqual(error('invalid_request'));
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('refuses a missing token sent as JSON with 400 invalid_request', async () => {
      const res = await revoke(w, w.app, { token_type_hint: 'access_token' }, true);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(error('invalid_request'));
    });

    it('refuses a request without client authentication with 401 invalid_client', async () => {
      const { refresh_token } = await issue(w, w.app);
      const res = await request(w.t.url).post('/oauth2/revoke').type('form').send({ token: refresh_token });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(error('invalid_client'));
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('revokes nothing for a request without client authentication', async () => {
      const { refresh_token } = await issue(w, w.app);
      await request(w.t.url).post('/oauth2/revoke').type('form').send({ token: refresh_token });
      expect((await refresh(w, w.app, refresh_token)).status).toBe(200);
    });

    it('refuses a wrong secret over HTTP Basic with 401 and a Basic challenge', async () => {
      const { refresh_token } = await issue(w, w.app);
      const res = await request(w.t.url).post('/oauth2/revoke').set('Authorization', basic(w.app.clientId, 'wrong-secret')).type('form').send({ token: refresh_token });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(error('invalid_client'));
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    });

    it('refuses a wrong client_secret in the body with 401 and no Basic challenge', async () => {
      const res = await request(w.t.url).post('/oauth2/revoke').type('form').send({ token: 'whatever', client_id: w.app.clientId, client_secret: 'wrong-secret' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(error('invalid_client'));
      expect(res.headers['www-authenticate']).toBeUndefined();
    });
  });

  describe('a public client (token_endpoint_auth_method "none")', () => {
    it('revokes its own refresh token, authenticating by client_id', async () => {
      const { refresh_token } = await issue(w, w.publicApp);
      expectRevokeOk(await revoke(w, w.publicApp, { token: refresh_token }));
      expect((await refresh(w, w.publicApp, refresh_token)).body).toEqual(error('invalid_grant'));
    });

    it('revokes its own access token, authenticating by client_id', async () => {
      const { access_token } = await issue(w, w.publicApp);
      expectRevokeOk(await revoke(w, w.publicApp, { token: access_token }));
      expect((await userinfo(w, access_token)).status).toBe(401);
    });

    it("revokes nothing of a confidential client's tokens", async () => {
      const theirs = await issue(w, w.app);
      expectRevokeOk(await revoke(w, w.publicApp, { token: theirs.refresh_token }));
      expect((await refresh(w, w.app, theirs.refresh_token)).status).toBe(200);
    });
  });
});

describe('POST /oauth2/introspect', () => {
  let w: World;
  beforeAll(async () => {
    w = await setUp();
  });
  afterAll(() => w.t.close());

  it('describes a live access token (RFC 7662 §2.2), not cacheable', async () => {
    const { access_token } = await issue(w, w.app);
    const res = await introspect(w, w.app, { token: access_token });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      active: true,
      token_type: 'Bearer',
      scope: SCOPE,
      client_id: w.app.clientId,
      sub: w.userId,
      aud: w.t.url,
      iss: w.t.url,
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.any(String),
    });
    expect(res.body.exp - res.body.iat).toBe(900);
  });

  it('describes a live refresh token of this client', async () => {
    const { refresh_token } = await issue(w, w.app);
    const res = await introspect(w, w.app, { token: refresh_token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      active: true,
      token_type: 'refresh_token',
      scope: SCOPE,
      client_id: w.app.clientId,
      sub: w.userId,
      iat: expect.any(Number),
      exp: expect.any(Number),
    });
    expect(res.body.exp).toBeGreaterThan(res.body.iat);
  });

  it('accepts JSON', async () => {
    const { access_token } = await issue(w, w.app);
    const res = await post(w, '/oauth2/introspect', w.app, { token: access_token }, true);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ active: true, token_type: 'Bearer' });
  });

  it('ignores a wrong token_type_hint', async () => {
    const { refresh_token } = await issue(w, w.app);
    const res = await introspect(w, w.app, { token: refresh_token, token_type_hint: 'access_token' });
    expect(res.body).toMatchObject({ active: true, token_type: 'refresh_token' });
  });

  describe('answers exactly {active: false}', () => {
    it('for an unknown token', async () => {
      const res = await introspect(w, w.app, { token: 'kx0Yq7aWcK1n2xS3VJ0m8y2ZlQh5-uA6tC9pE4bR1fD' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(INACTIVE);
    });

    it.each([['garbage', 'not a token at all'], ['three dots but no JWT', 'a.b.c'], ['a JWT with a broken header', 'eyJub3QiOiJqc29u.e30.c2ln']])(
      'for a malformed token (%s)',
      async (_name, token) => {
        const res = await introspect(w, w.app, { token });
        expect(res.status).toBe(200);
        expect(res.body).toEqual(INACTIVE);
      },
    );

    it('for a revoked refresh token', async () => {
      const { refresh_token } = await issue(w, w.app);
      expectRevokeOk(await revoke(w, w.app, { token: refresh_token }));
      expect((await introspect(w, w.app, { token: refresh_token })).body).toEqual(INACTIVE);
    });

    it('for a revoked access token', async () => {
      const { access_token } = await issue(w, w.app);
      expectRevokeOk(await revoke(w, w.app, { token: access_token }));
      expect((await introspect(w, w.app, { token: access_token })).body).toEqual(INACTIVE);
    });

    it('for a rotated (used) refresh token', async () => {
      const { refresh_token } = await issue(w, w.app);
      await rotate(w, w.app, refresh_token);
      expect((await introspect(w, w.app, { token: refresh_token })).body).toEqual(INACTIVE);
    });

    it('for an expired refresh token', async () => {
      const { refresh_token } = await issue(w, w.app);
      await sql(w.t, `UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, [hash(refresh_token)]);
      expect((await introspect(w, w.app, { token: refresh_token })).body).toEqual(INACTIVE);
    });

    it('for an expired access token', async () => {
      const { access_token } = await issue(w, w.app);
      const res = await later(w, 3600, () => introspect(w, w.app, { token: access_token }));
      expect(res.status).toBe(200);
      expect(res.body).toEqual(INACTIVE);
    });

    it('for an access token verified (and remembered) while live, once it has expired', async () => {
      const { access_token } = await issue(w, w.app);
      expect((await introspect(w, w.app, { token: access_token })).body.active).toBe(true);
      expect((await later(w, 3600, () => introspect(w, w.app, { token: access_token }))).body).toEqual(INACTIVE);
    });

    it('for an access token verified (and remembered) while live, once it was revoked', async () => {
      const { access_token } = await issue(w, w.app);
      expect((await introspect(w, w.app, { token: access_token })).body.active).toBe(true);
      expectRevokeOk(await revoke(w, w.app, { token: access_token }));
      expect((await introspect(w, w.app, { token: access_token })).body).toEqual(INACTIVE);
    });

    it('for a remembered token with one byte changed', async () => {
      const { access_token } = await issue(w, w.app);
      expect((await introspect(w, w.app, { token: access_token })).body.active).toBe(true);
      const [header, payload, signature] = access_token.split('.');
      const flipped = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
      expect((await introspect(w, w.app, { token: flipped })).body).toEqual(INACTIVE);
    });

    it("for another client's refresh token", async () => {
      const theirs = await issue(w, w.other);
      const res = await introspect(w, w.app, { token: theirs.refresh_token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(INACTIVE);
    });
  });

  describe('refused requests', () => {
    it('refuses a public client with 401 invalid_client', async () => {
      const { access_token } = await issue(w, w.publicApp);
      const res = await introspect(w, w.publicApp, { token: access_token });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(error('invalid_client'));
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('refuses a missing token with 400 invalid_request', async () => {
      const res = await introspect(w, w.app, {});
      expect(res.status).toBe(400);
      expect(res.body).toEqual(error('invalid_request'));
    });

    it('refuses a request without client authentication with 401 invalid_client', async () => {
      const res = await request(w.t.url).post('/oauth2/introspect').type('form').send({ token: 'anything' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(error('invalid_client'));
    });

    it('refuses a wrong secret over HTTP Basic with 401 and a Basic challenge', async () => {
      const res = await request(w.t.url).post('/oauth2/introspect').set('Authorization', basic(w.app.clientId, 'wrong-secret')).type('form').send({ token: 'anything' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(error('invalid_client'));
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    });
  });
});

describe('refresh-token rotation seen through revocation and introspection', () => {
  let w: World;
  beforeAll(async () => {
    w = await setUp();
  });
  afterAll(() => w.t.close());

  it('after a refresh, the old refresh token introspects inactive', async () => {
    const first = await issue(w, w.app);
    await rotate(w, w.app, first.refresh_token);
    expect((await introspect(w, w.app, { token: first.refresh_token })).body).toEqual(INACTIVE);
  });

  it('after a refresh, the new refresh token introspects active', async () => {
    const first = await issue(w, w.app);
    const second = await rotate(w, w.app, first.refresh_token);
    expect((await introspect(w, w.app, { token: second.refresh_token })).body).toMatchObject({ active: true, token_type: 'refresh_token', sub: w.userId });
  });

  it('refuses the old refresh token presented again with invalid_grant', async () => {
    const first = await issue(w, w.app);
    await rotate(w, w.app, first.refresh_token);
    const res = await refresh(w, w.app, first.refresh_token);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(error('invalid_grant'));
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('revokes the family on reuse: the new refresh token no longer refreshes', async () => {
    const first = await issue(w, w.app);
    const second = await rotate(w, w.app, first.refresh_token);
    await refresh(w, w.app, first.refresh_token);
    const res = await refresh(w, w.app, second.refresh_token);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(error('invalid_grant'));
  });

  it('revokes the family on reuse: the new refresh token introspects inactive', async () => {
    const first = await issue(w, w.app);
    const second = await rotate(w, w.app, first.refresh_token);
    await refresh(w, w.app, first.refresh_token);
    expect((await introspect(w, w.app, { token: second.refresh_token })).body).toEqual(INACTIVE);
  });

  it('revokes the family on reuse: the access token issued with the new refresh token is refused at userinfo', async () => {
    const first = await issue(w, w.app);
    const second = await rotate(w, w.app, first.refresh_token);
    expect((await userinfo(w, second.access_token)).status).toBe(200);
    await refresh(w, w.app, first.refresh_token);
    const res = await userinfo(w, second.access_token);
    expect(res.status).toBe(401);
    expect(res.body).toEqual(error('invalid_token'));
  });

  describe('10 concurrent refresh_token grants of one token', () => {
    const RACERS = 10;
    /** Races one refresh token; answers the responses and the family it belongs to. */
    async function race(): Promise<{ original: string; responses: request.Response[]; familyId: string }> {
      const { refresh_token } = await issue(w, w.app);
      const familyId = await familyOf(w, refresh_token);
      const responses = await Promise.all(Array.from({ length: RACERS }, () => refresh(w, w.app, refresh_token)));
      return { original: refresh_token, responses, familyId };
    }

    it('give at most one 200; every other answer is invalid_grant', async () => {
      const { responses } = await race();
      const ok = responses.filter((r) => r.status === 200);
      expect(ok.length).toBeLessThanOrEqual(1);
      for (const r of responses.filter((x) => x.status !== 200)) {
        expect(r.status).toBe(400);
        expect(r.body).toEqual(error('invalid_grant'));
      }
    });

    it('leave every refresh token of the family dead, or exactly one live, by introspection', async () => {
      const { original, responses } = await race();
      const minted = responses.filter((r) => r.status === 200).map((r) => r.body.refresh_token as string);
      const states = await Promise.all([original, ...minted].map(async (token) => (await introspect(w, w.app, { token })).body));
      const live = states.filter((s) => s.active === true);
      const dead = states.filter((s) => s.active !== true);
      expect(live.length).toBeLessThanOrEqual(1);
      expect(live).toEqual(live.map(() => expect.objectContaining({ token_type: 'refresh_token', client_id: w.app.clientId })));
      expect(dead).toEqual(dead.map(() => INACTIVE));
      expect(states[0]).toEqual(INACTIVE);
    });

    it('leave at most one live row of the family in refresh_tokens', async () => {
      const { familyId } = await race();
      const [{ live }] = await sql<{ live: number }>(
        w.t,
        'SELECT count(*)::int AS live FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NULL AND rotated_at IS NULL',
        [familyId],
      );
      expect(live).toBeLessThanOrEqual(1);
    });

    it('leave the database and introspection in agreement about the live token', async () => {
      const { responses, familyId } = await race();
      const [{ live }] = await sql<{ live: number }>(
        w.t,
        'SELECT count(*)::int AS live FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NULL AND rotated_at IS NULL',
        [familyId],
      );
      const minted = responses.filter((r) => r.status === 200).map((r) => r.body.refresh_token as string);
      const active = (await Promise.all(minted.map(async (token) => (await introspect(w, w.app, { token })).body.active as boolean))).filter(Boolean);
      expect(active.length).toBe(live);
    });
  });

  describe('10 concurrent authorization_code redemptions of one code', () => {
    const RACERS = 10;
    async function race(): Promise<{ code: string; verifier: string; responses: request.Response[] }> {
      const { code, verifier } = await authorize(w, w.app);
      const responses = await Promise.all(Array.from({ length: RACERS }, () => exchange(w, w.app, code, verifier)));
      return { code, verifier, responses };
    }

    it('give exactly one 200; every other answer is invalid_grant', async () => {
      const { responses } = await race();
      expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of responses.filter((x) => x.status !== 200)) {
        expect(r.status).toBe(400);
        expect(r.body).toEqual(error('invalid_grant'));
      }
    });

    it('refuse a later replay of the code with invalid_grant', async () => {
      const { code, verifier } = await race();
      const res = await exchange(w, w.app, code, verifier);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(error('invalid_grant'));
    });

    it("then the winner's access token is refused at userinfo", async () => {
      const { code, verifier, responses } = await race();
      const winner = responses.find((r) => r.status === 200)!;
      await exchange(w, w.app, code, verifier);
      const res = await userinfo(w, winner.body.access_token);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(error('invalid_token'));
    });

    it("then the winner's refresh token no longer refreshes", async () => {
      const { code, verifier, responses } = await race();
      const winner = responses.find((r) => r.status === 200)!;
      await exchange(w, w.app, code, verifier);
      const res = await refresh(w, w.app, winner.body.refresh_token);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(error('invalid_grant'));
    });
  });
});
