import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createHash } from 'node:crypto';
import request from 'supertest';
import { sql } from '../helpers/database';
import { GrantsService } from '../../src/grants/grants.service';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { createUser, signIn } from '../helpers/identity';
import { authorizeAndConsent } from '../helpers/oauth';


const hash = (value: string) => createHash('sha256').update(value).digest('hex');
const error = (code: string) => ({ error: code, error_description: expect.any(String) });

describe('POST /oauth2/token', () => {
  let t: TestApp;
  let admin: string;
  let user: string;
  let userId: string;
  let app: RegisteredApp;
  let other: RegisteredApp;

  const token = (client: RegisteredApp, body: Record<string, string | undefined>) =>
    request(t.url).post('/oauth2/token').set('Authorization', basic(client.clientId, client.clientSecret!)).type('form').send(body);
  const exchange = (client: RegisteredApp, code: string, verifier: string, extra: Record<string, string | undefined> = {}) =>
    token(client, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: client.redirectUri, ...extra });

  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
    const alice = await createUser(t, admin, { username: 'alice' });
    userId = alice.id;
    user = await signIn(t, alice.username, alice.password);
    app = await createApp(t, admin, { name: 'main', grant_types: ['authorization_code', 'refresh_token'] });
    other = await createApp(t, admin, { name: 'other', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://other.example.com/cb'] });
  });
  afterAll(() => t.close());

  describe('authorization_code', () => {
    it('answers the RFC 6749 §5.1 token response, not cacheable', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user, { scope: 'openid profile offline_access' });
      const res = await exchange(app, code, verifier);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 900,
        refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        scope: 'openid profile offline_access',
        id_token: expect.any(String),
      });
    });

    it('issues no refresh token for an OpenID request without offline_access (SPEC §4, OIDC Core §11)', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user, { scope: 'openid profile' });
      const res = await exchange(app, code, verifier);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 900, scope: 'openid profile', id_token: expect.any(String) });
    });

    it('issues a refresh token for a request that is not OpenID, to an app registered for them', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user, { scope: 'profile' });
      expect((await exchange(app, code, verifier)).body.refresh_token).toEqual(expect.any(String));
    });

    it('issues an RFC 9068 access token', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user, { scope: 'openid profile' });
      const { access_token } = (await exchange(app, code, verifier)).body;
      expect(decodeProtectedHeader(access_token)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
      const claims = decodeJwt(access_token);
      expect(claims).toEqual({
        iss: t.url, sub: userId, aud: t.url, client_id: app.clientId, scope: 'openid profile',
        iat: expect.any(Number), exp: expect.any(Number), jti: expect.any(String), auth_time: expect.any(Number),
      });
      expect(claims.exp! - claims.iat!).toBe(900);
    });

    it('issues an ID token with the nonce for openid', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user, { scope: 'openid', nonce: 'n-0S6_WzA2Mj' });
      const { id_token } = (await exchange(app, code, verifier)).body;
      expect(decodeJwt(id_token)).toEqual({
        iss: t.url, sub: userId, aud: app.clientId, nonce: 'n-0S6_WzA2Mj', auth_time: expect.any(Number), iat: expect.any(Number), exp: expect.any(Number),
      });
    });

    it('issues no ID token without openid, and no refresh token to an app without the refresh_token grant', async () => {
      const codeOnly = await createApp(t, admin, { name: 'code-only', redirect_uris: ['https://code-only.example.com/cb'] });
      const { code, verifier } = await authorizeAndConsent(t, codeOnly, user, { scope: 'profile' });
      const res = await exchange(codeOnly, code, verifier);
      expect(res.status).toBe(200);
      expect(res.body.id_token).toBeUndefined();
      expect(res.body.refresh_token).toBeUndefined();
    });

    it('records the use of the grant (the "last used" of /account/apps), written behind', async () => {
      const fresh = await createApp(t, admin, { name: 'used', redirect_uris: ['https://used.example.com/cb'] });
      const { code, verifier } = await authorizeAndConsent(t, fresh, user);
      // Uses are written behind in batches; what shows them (the grants API, /account/apps) writes them first.
      const lastUsed = async () => {
        await t.app.get(GrantsService).flushUsage();
        return sql<{ last_used_at: Date | null }>(t, 'SELECT g.last_used_at FROM grants g JOIN apps a ON a.id = g.app_id WHERE a.client_id = $1', [fresh.clientId]);
      };
      expect(await lastUsed()).toEqual([{ last_used_at: null }]);
      expect((await exchange(fresh, code, verifier)).status).toBe(200);
      expect(await lastUsed()).toEqual([{ last_used_at: expect.any(Date) }]);
    });

    it('accepts a JSON body', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user);
      const res = await request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!))
        .send({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: app.redirectUri });
      expect(res.status).toBe(200);
    });

    it('refuses a missing code with invalid_request', async () => {
      const res = await token(app, { grant_type: 'authorization_code', code_verifier: 'x'.repeat(43), redirect_uri: app.redirectUri });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(error('invalid_request'));
    });

    it('refuses an unknown code with invalid_grant', async () => {
      const res = await exchange(app, 'no-such-code', 'x'.repeat(43));
      expect(res.status).toBe(400);
      expect(res.body).toEqual(error('invalid_grant'));
    });

    it('refuses an expired code', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user);
      await sql(t, `UPDATE authorization_codes SET expires_at = now() - interval '1 second' WHERE code_hash = $1`, [hash(code)]);
      expect((await exchange(app, code, verifier)).body).toEqual(error('invalid_grant'));
    });

    it("refuses another client's code", async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user);
      const res = await token(other, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: app.redirectUri });
      expect(res.body).toEqual(error('invalid_grant'));
    });

    it('refuses a redirect_uri other than the authorization request’s', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user);
      expect((await exchange(app, code, verifier, { redirect_uri: 'https://app.example.com/other' })).body).toEqual(error('invalid_grant'));
    });

    it('refuses a missing redirect_uri when the authorization request named one', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user);
      expect((await exchange(app, code, verifier, { redirect_uri: undefined })).body).toEqual(error('invalid_grant'));
    });

    it('accepts a missing redirect_uri when the authorization request omitted it too', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user, { redirect_uri: undefined });
      expect((await exchange(app, code, verifier, { redirect_uri: undefined })).status).toBe(200);
    });

    it.each([
      ['missing', undefined],
      ['wrong', 'a'.repeat(43)],
      ['too short', 'a'.repeat(42)],
      ['too long', 'a'.repeat(129)],
      ['with characters outside the unreserved set', `${'a'.repeat(42)}+`],
    ])('refuses a %s code_verifier with invalid_grant', async (_name, verifier) => {
      const { code } = await authorizeAndConsent(t, app, user);
      expect((await exchange(app, code, verifier!)).body).toEqual(error('invalid_grant'));
    });

    it('leaves the code usable after a refused verifier, so the real client still gets its tokens', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user);
      expect((await exchange(app, code, 'b'.repeat(43))).status).toBe(400);
      expect((await exchange(app, code, verifier)).status).toBe(200);
    });

    it('refuses a replayed code and kills the tokens it produced', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user, { scope: 'openid offline_access' });
      const first = await exchange(app, code, verifier);
      expect(first.status).toBe(200);
      expect((await exchange(app, code, verifier)).body).toEqual(error('invalid_grant'));
      const refresh = await token(app, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
      expect(refresh.body).toEqual(error('invalid_grant'));
      const userinfo = await request(t.url).get('/oauth2/userinfo').set('Authorization', `Bearer ${first.body.access_token}`);
      expect(userinfo.status).toBe(401);
    });

    it('binds the token to an authorized RFC 8707 resource', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user, { resource: 'https://api.example.com/' });
      const res = await exchange(app, code, verifier, { resource: 'https://api.example.com/' });
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).aud).toBe('https://api.example.com/');
    });

    it('uses the authorized resource as the audience when the token request names none', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user, { resource: 'https://api.example.com/' });
      const res = await exchange(app, code, verifier);
      expect(decodeJwt(res.body.access_token).aud).toBe('https://api.example.com/');
    });

    it('refuses a resource that was not authorized with invalid_target', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user, { resource: 'https://api.example.com/' });
      expect((await exchange(app, code, verifier, { resource: 'https://other-api.example.com/' })).body).toEqual(error('invalid_target'));
    });

    it('refuses a malformed resource with invalid_target', async () => {
      const { code, verifier } = await authorizeAndConsent(t, app, user);
      expect((await exchange(app, code, verifier, { resource: 'relative/path' })).body).toEqual(error('invalid_target'));
    });
  });

  describe('refresh_token', () => {
    async function tokens(scope = 'openid profile offline_access') {
      const { code, verifier } = await authorizeAndConsent(t, app, user, { scope });
      return (await exchange(app, code, verifier)).body as { access_token: string; refresh_token: string };
    }

    it('rotates: a new refresh token each time, with a new access token', async () => {
      const first = await tokens();
      const res = await token(app, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 900, refresh_token: expect.any(String), scope: 'openid profile offline_access', id_token: expect.any(String) });
      expect(res.body.refresh_token).not.toBe(first.refresh_token);
      expect(res.body.access_token).not.toBe(first.access_token);
    });

    it('refuses a rotated token presented again, and revokes its whole family', async () => {
      const first = await tokens();
      const second = (await token(app, { grant_type: 'refresh_token', refresh_token: first.refresh_token })).body;
      expect((await token(app, { grant_type: 'refresh_token', refresh_token: first.refresh_token })).body).toEqual(error('invalid_grant'));
      expect((await token(app, { grant_type: 'refresh_token', refresh_token: second.refresh_token })).body).toEqual(error('invalid_grant'));
      const userinfo = await request(t.url).get('/oauth2/userinfo').set('Authorization', `Bearer ${second.access_token}`);
      expect(userinfo.status).toBe(401);
    });

    it('narrows the scope of the access token on request', async () => {
      const first = await tokens();
      const res = await token(app, { grant_type: 'refresh_token', refresh_token: first.refresh_token, scope: 'profile' });
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('profile');
      expect(decodeJwt(res.body.access_token).scope).toBe('profile');
      expect(res.body.id_token).toBeUndefined();
    });

    it('keeps the full scope on the rotated refresh token after a narrowed request', async () => {
      const first = await tokens();
      const narrowed = (await token(app, { grant_type: 'refresh_token', refresh_token: first.refresh_token, scope: 'profile' })).body;
      const again = await token(app, { grant_type: 'refresh_token', refresh_token: narrowed.refresh_token });
      expect(again.body.scope).toBe('openid profile offline_access');
    });

    it('refuses to widen the scope with invalid_scope, and the token stays usable', async () => {
      const first = await tokens('openid profile offline_access');
      expect((await token(app, { grant_type: 'refresh_token', refresh_token: first.refresh_token, scope: 'openid profile email' })).body).toEqual(error('invalid_scope'));
      expect((await token(app, { grant_type: 'refresh_token', refresh_token: first.refresh_token })).status).toBe(200);
    });

    it("refuses another client's refresh token, and does not revoke it", async () => {
      const first = await tokens();
      expect((await token(other, { grant_type: 'refresh_token', refresh_token: first.refresh_token })).body).toEqual(error('invalid_grant'));
      expect((await token(app, { grant_type: 'refresh_token', refresh_token: first.refresh_token })).status).toBe(200);
    });

    it('refuses an expired refresh token', async () => {
      const first = await tokens();
      await sql(t, `UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, [hash(first.refresh_token)]);
      expect((await token(app, { grant_type: 'refresh_token', refresh_token: first.refresh_token })).body).toEqual(error('invalid_grant'));
    });

    it('stores only the hash of refresh tokens', async () => {
      const first = await tokens();
      const rows = await sql<{ token_hash: string }>(t, 'SELECT token_hash FROM refresh_tokens WHERE token_hash = $1', [hash(first.refresh_token)]);
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(await sql(t, 'SELECT * FROM refresh_tokens'))).not.toContain(first.refresh_token);
    });

    it('refuses a missing refresh_token with invalid_request', async () => {
      expect((await token(app, { grant_type: 'refresh_token' })).body).toEqual(error('invalid_request'));
    });
  });

  describe('client_credentials', () => {
    let service: RegisteredApp;
    beforeAll(async () => {
      service = await createApp(t, admin, { name: 'daemon', grant_types: ['client_credentials'], redirect_uris: [], scope: 'openid' });
    });

    it('issues an access token for the client itself, and no refresh token', async () => {
      const res = await token(service, { grant_type: 'client_credentials' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 900, scope: '' });
      const claims = decodeJwt(res.body.access_token);
      expect(claims).toMatchObject({ sub: service.clientId, client_id: service.clientId, aud: t.url });
    });

    it('refuses user scopes with invalid_scope', async () => {
      expect((await token(service, { grant_type: 'client_credentials', scope: 'openid' })).body).toEqual(error('invalid_scope'));
    });

    it('refuses a client not registered for it with unauthorized_client', async () => {
      expect((await token(app, { grant_type: 'client_credentials' })).body).toEqual(error('unauthorized_client'));
    });
  });

  describe('any grant', () => {
    it('refuses an unknown grant_type with unsupported_grant_type', async () => {
      const res = await token(app, { grant_type: 'password' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(error('unsupported_grant_type'));
    });

    it('refuses a missing grant_type with invalid_request', async () => {
      expect((await token(app, {})).body).toEqual(error('invalid_request'));
    });

    it('refuses a repeated parameter with invalid_request', async () => {
      const res = await request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form')
        .send('grant_type=refresh_token&refresh_token=a&refresh_token=b');
      expect(res.body).toEqual(error('invalid_request'));
    });

    it('answers a huge body with 413, never 500', async () => {
      const res = await token(app, { grant_type: 'refresh_token', refresh_token: 'x'.repeat(200_000) });
      expect(res.status).toBe(413);
      expect(res.body.error).toBe('invalid_request');
    });

    it('answers malformed JSON with invalid_request', async () => {
      const res = await request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!))
        .set('Content-Type', 'application/json').send('{"grant_type":');
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });
  });
});
