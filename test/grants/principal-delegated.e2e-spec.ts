import { decodeJwt, decodeProtectedHeader } from 'jose';
import request from 'supertest';
import { sql } from '../helpers/database';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { createServiceAccount, createUser, signIn } from '../helpers/identity';
import { authorizeAndConsent } from '../helpers/oauth';

/**
 * Tokens for callers of the API itself (SPEC §2): `GET /api/v1/oauth2/principal-token` gives the caller a token
 * with every scope its role allows; `POST /api/v1/oauth2/delegated-token` lets an admin mint a token for another
 * user, naming the admin in an RFC 8693 `act` claim, and is audited.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Every built-in scope (SPEC §2); only users with the admin role may be granted `admin`. */
const USER_SCOPES = ['openid', 'profile', 'email', 'offline_access', 'account'];
const ADMIN_SCOPES = [...USER_SCOPES, 'admin'];
const problem = (type: string, status: number) => ({ type, title: expect.any(String), status, request_id: expect.any(String) });
const tokenResponse = { access_token: expect.any(String), token_type: 'Bearer', expires_in: 900, scope: expect.any(String) };
const scopesOf = (scope: string) => scope.split(' ').sort();

describe('principal and delegated tokens', () => {
  let t: TestApp;
  let admin: string;
  let adminId: string;
  let alice: { id: string; username: string; password: string };
  let aliceCookie: string;
  let app: RegisteredApp;
  let names = 0;

  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
    [{ id: adminId }] = await sql<{ id: string }>(t, `SELECT id FROM users WHERE username = 'admin'`);
    alice = await createUser(t, admin, { username: 'alice' });
    aliceCookie = await signIn(t, alice.username, alice.password);
    app = await createApp(t, admin, { name: 'console', scope: 'openid profile account admin', grant_types: ['authorization_code'] });
  });
  afterAll(() => t.close());

  /** An access token of `app` for the signed-in user, with the given scope. */
  async function appToken(cookie: string, scope: string): Promise<string> {
    const { code, verifier } = await authorizeAndConsent(t, app, cookie, { scope });
    const res = await request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form')
      .send({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: app.redirectUri });
    if (res.status !== 200) throw new Error(`code exchange failed: ${res.status} ${res.text}`);
    return res.body.access_token;
  }

  const principalToken = (credential: { cookie: string } | { bearer: string }) => {
    const req = request(t.url).get('/api/v1/oauth2/principal-token');
    return 'cookie' in credential ? req.set('Cookie', credential.cookie) : req.set('Authorization', `Bearer ${credential.bearer}`);
  };
  const delegatedToken = (credential: { cookie: string } | { bearer: string } | undefined, body: unknown) => {
    const req = request(t.url).post('/api/v1/oauth2/delegated-token').send(body as object);
    if (!credential) return req;
    return 'cookie' in credential ? req.set('Cookie', credential.cookie) : req.set('Authorization', `Bearer ${credential.bearer}`);
  };
  const bearer = (token: string) => ({ bearer: token });

  describe('GET /api/v1/oauth2/principal-token', () => {
    it('answers a token response for the session’s user, not cacheable', async () => {
      const res = await principalToken({ cookie: aliceCookie });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual(tokenResponse);
    });

    it('signs an RFC 9068 access token whose sub is the caller', async () => {
      const { access_token } = (await principalToken({ cookie: aliceCookie })).body;
      expect(decodeProtectedHeader(access_token)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
      const claims = decodeJwt(access_token);
      expect(claims).toEqual({
        iss: t.url, sub: alice.id, aud: t.url, client_id: expect.any(String), scope: expect.any(String),
        iat: expect.any(Number), exp: expect.any(Number), jti: expect.any(String),
        // Bound to the browser session it was minted from (SPEC §2): it ends with it.
        sid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(claims.exp! - claims.iat!).toBe(900);
    });

    it('gives a plain user every scope the role allows, never admin', async () => {
      const res = await principalToken({ cookie: aliceCookie });
      expect(scopesOf(res.body.scope)).toEqual([...USER_SCOPES].sort());
      expect(scopesOf(decodeJwt(res.body.access_token).scope as string)).toEqual([...USER_SCOPES].sort());
    });

    it('gives an admin every scope, admin included', async () => {
      const res = await principalToken({ cookie: admin });
      expect(scopesOf(res.body.scope)).toEqual([...ADMIN_SCOPES].sort());
      expect(decodeJwt(res.body.access_token).sub).toBe(adminId);
    });

    it('works as a bearer token on the caller’s own /api/v0/users/me routes', async () => {
      const { access_token } = (await principalToken({ cookie: aliceCookie })).body;
      const res = await request(t.url).get('/api/v0/users/me/oauth2/authorizations').set('Authorization', `Bearer ${access_token}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: expect.any(Array) });
    });

    it('works for an admin as a bearer token on the admin API', async () => {
      const { access_token } = (await principalToken({ cookie: admin })).body;
      const res = await request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${access_token}`);
      expect(res.status).toBe(200);
    });

    it('gives a plain user no way into the admin API', async () => {
      const { access_token } = (await principalToken({ cookie: aliceCookie })).body;
      const res = await request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${access_token}`);
      expect(res.status).toBe(403);
    });

    it('is given to an access token with the account scope, for its sub', async () => {
      const token = await appToken(aliceCookie, 'account');
      const res = await principalToken(bearer(token));
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).sub).toBe(alice.id);
    });

    it('never gives an app-held token more than it carries: an admin’s account-only token gets no admin scope', async () => {
      const token = await appToken(admin, 'account');
      const res = await principalToken(bearer(token));
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('account');
      expect((await request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${res.body.access_token}`)).status).toBe(403);
    });

    it('refuses a delegated token: a token minted by this API cannot mint another, so no chain outlives its root', async () => {
      const delegated = await delegatedToken({ cookie: admin }, { sub: alice.id, scopes: ['account'] });
      expect(decodeJwt(delegated.body.access_token)).toMatchObject({ sub: alice.id, scope: 'account', act: { sub: adminId } });
      const res = await principalToken(bearer(delegated.body.access_token));
      expect(res.status).toBe(403);
      expect(res.body).toEqual(problem('forbidden', 403));
    });

    it('refuses an access token without the account scope: 403 insufficient_scope', async () => {
      const token = await appToken(aliceCookie, 'openid profile');
      const res = await principalToken(bearer(token));
      expect(res.status).toBe(403);
      expect(res.body).toEqual(problem('forbidden', 403));
      expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
      expect(res.headers['www-authenticate']).toContain('scope="account"');
    });

    it('refuses a caller without credentials: 401', async () => {
      const res = await request(t.url).get('/api/v1/oauth2/principal-token');
      expect(res.status).toBe(401);
      expect(res.body).toEqual(problem('unauthorised', 401));
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    });
  });

  describe('POST /api/v1/oauth2/delegated-token', () => {
    it('answers a token response, not cacheable, with what the user could be granted by default', async () => {
      const res = await delegatedToken({ cookie: admin }, { sub: alice.id });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual(tokenResponse);
      expect(scopesOf(res.body.scope)).toEqual([...USER_SCOPES].sort());
    });

    it('names the user in sub and the admin in act.sub (RFC 8693 §4.1)', async () => {
      const res = await delegatedToken({ cookie: admin }, { sub: alice.id });
      const claims = decodeJwt(res.body.access_token);
      expect(claims.sub).toBe(alice.id);
      expect(claims.act).toEqual(expect.objectContaining({ sub: adminId }));
      expect(claims.iss).toBe(t.url);
      expect(claims.team_id).toBeUndefined();
      expect(scopesOf(claims.scope as string)).toEqual([...USER_SCOPES].sort());
    });

    it('carries team_id when given', async () => {
      const res = await delegatedToken({ cookie: admin }, { sub: alice.id, team_id: 'team-42' });
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).team_id).toBe('team-42');
    });

    it('honours narrower scopes', async () => {
      const res = await delegatedToken({ cookie: admin }, { sub: alice.id, scopes: ['openid', 'account'] });
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('openid account');
      expect(decodeJwt(res.body.access_token).scope).toBe('openid account');
    });

    it('gives an admin subject the admin scope by default', async () => {
      const bob = await createUser(t, admin, { username: `bob${++names}`, role: 'admin' });
      const res = await delegatedToken({ cookie: admin }, { sub: bob.id });
      expect(scopesOf(res.body.scope)).toEqual([...ADMIN_SCOPES].sort());
    });

    it('refuses a scope beyond the user’s (admin for a plain user): 400 validation_error', async () => {
      const res = await delegatedToken({ cookie: admin }, { sub: alice.id, scopes: ['openid', 'admin'] });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toEqual({
        ...problem('validation_error', 400),
        invalid_fields: [{ name: 'scopes', error: 'invalid_value', title: expect.any(String), pointer: '/scopes' }],
      });
    });

    it('refuses an unknown scope: 400 validation_error', async () => {
      const res = await delegatedToken({ cookie: admin }, { sub: alice.id, scopes: ['no-such-scope'] });
      expect(res.status).toBe(400);
      expect(res.body.type).toBe('validation_error');
    });

    it('refuses an unknown sub: 400 with reference_not_found', async () => {
      const res = await delegatedToken({ cookie: admin }, { sub: '00000000-0000-4000-8000-000000000000' });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toEqual({
        ...problem('validation_error', 400),
        invalid_fields: [{ name: 'sub', error: 'reference_not_found', title: expect.any(String), pointer: '/sub' }],
      });
    });

    it('refuses a sub that is not a uuid: 400 validation_error', async () => {
      const res = await delegatedToken({ cookie: admin }, { sub: 'alice' });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toEqual({ ...problem('validation_error', 400), invalid_fields: expect.any(Array) });
      expect(res.body.invalid_fields[0]).toEqual(expect.objectContaining({ name: 'sub' }));
    });

    it('refuses a body without sub: 400 validation_error', async () => {
      const res = await delegatedToken({ cookie: admin }, {});
      expect(res.status).toBe(400);
      expect(res.body.type).toBe('validation_error');
    });

    it('refuses a caller who is not an admin: 403', async () => {
      const res = await delegatedToken({ cookie: aliceCookie }, { sub: alice.id });
      expect(res.status).toBe(403);
      expect(res.body).toEqual(problem('forbidden', 403));
    });

    it('refuses an admin’s access token without the admin scope: 403 insufficient_scope', async () => {
      const token = await appToken(admin, 'account');
      const res = await delegatedToken(bearer(token), { sub: alice.id });
      expect(res.status).toBe(403);
      expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
      expect(res.headers['www-authenticate']).toContain('scope="admin"');
    });

    it('refuses a caller without credentials: 401', async () => {
      const res = await delegatedToken(undefined, { sub: alice.id });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(problem('unauthorised', 401));
    });

    it('lets a service account with the admin role call it, and act names the service account', async () => {
      const robot = await createServiceAccount(t, admin, `robot-${++names}`, 'admin');
      const res = await delegatedToken(bearer(robot.token), { sub: alice.id });
      expect(res.status).toBe(200);
      const claims = decodeJwt(res.body.access_token);
      expect(claims.sub).toBe(alice.id);
      expect(claims.act).toEqual(expect.objectContaining({ sub: robot.id }));
      expect(robot.id).toMatch(UUID);
    });

    it('refuses a service account with the user role: 403', async () => {
      const robot = await createServiceAccount(t, admin, `robot-${++names}`, 'user');
      const res = await delegatedToken(bearer(robot.token), { sub: alice.id });
      expect(res.status).toBe(403);
    });

    it('gives a token that acts as the user on the user’s own routes', async () => {
      const { access_token } = (await delegatedToken({ cookie: admin }, { sub: alice.id })).body;
      const res = await request(t.url).get('/api/v0/users/me/oauth2/authorizations').set('Authorization', `Bearer ${access_token}`);
      expect(res.status).toBe(200);
      const info = await request(t.url).get('/oauth2/userinfo').set('Authorization', `Bearer ${access_token}`);
      expect(info.status).toBe(200);
      expect(info.body.sub).toBe(alice.id);
    });

    it('audits the delegation in the log with the subject, and never logs the token', async () => {
      const carol = await createUser(t, admin, { username: `carol${++names}` });
      const res = await delegatedToken({ cookie: admin }, { sub: carol.id, team_id: 'audit-team' });
      expect(res.status).toBe(200);
      const audit = t.logs.entries().filter((e) => JSON.stringify(e).includes('delegated token issued'));
      expect(audit.length).toBeGreaterThanOrEqual(1);
      expect(audit.some((e) => JSON.stringify(e).includes(carol.id) && JSON.stringify(e).includes(adminId))).toBe(true);
      expect(t.logs.text).toContain('delegated token issued');
      expect(t.logs.text).toContain(carol.id);
      expect(t.logs.text).not.toContain(res.body.access_token);
      // Nor the signature alone, which is what would make a partial leak usable.
      expect(t.logs.text).not.toContain(res.body.access_token.split('.')[2]);
    });
  });
});
