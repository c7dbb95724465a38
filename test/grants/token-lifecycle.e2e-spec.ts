import { decodeJwt } from 'jose';
import request from 'supertest';
import { AppsService } from '../../src/clients/apps.service';
import {
  introspect as introspectRequest, issueTokens, myAuthorizations, principalToken as principalTokenRequest, refresh as refreshRequest, revoke as revokeRequest,
} from '../helpers/protocol';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { createUser, signIn } from '../helpers/identity';

/**
 * SPEC §7 "every token dies with what it came from" (issue 10 item 3): principal tokens bound to their source, app
 * and user deletion, demotion and password changes, and refresh re-cutting its scopes to what is allowed now.
 */
describe('every token dies with what it came from', () => {
  let t: TestApp;
  let admin: string;
  let app: RegisteredApp;
  let users = 0;

  beforeAll(async () => {
    t = await bootApp({ env: { OAUTH2_DCR_ENABLED: 'true', OAUTH2_DCR_RATE_LIMIT: '0' } });
    admin = await signIn(t);
    app = await createApp(t, admin, { name: 'console', scope: 'openid profile offline_access account', grant_types: ['authorization_code', 'refresh_token'] });
  });
  afterAll(() => t.close());

  interface Person { id: string; username: string; password: string; cookie: string }
  async function person(role: 'user' | 'admin' = 'user'): Promise<Person> {
    const user = await createUser(t, admin, { username: `lifecycle-${++users}`, role });
    return { ...user, cookie: await signIn(t, user.username, user.password) };
  }

  const tokensFor = (who: Person, scope = 'openid offline_access account', client = app) => issueTokens(t, client, who.cookie, { scope });
  const refresh = (client: RegisteredApp, refreshToken: string) => refreshRequest(t, client, refreshToken);
  const revoke = (client: RegisteredApp, token: string) => revokeRequest(t, client, token);
  const introspect = async (token: string) => (await introspectRequest(t, app, token)).body.active as boolean;
  const principalToken = (credential: { cookie: string } | { bearer: string }) => principalTokenRequest(t, credential);
  /** Whether a token (or a cookie) still acts on the caller's own API. */
  const works = async (credential: { cookie: string } | { bearer: string }) => {
    const res = await myAuthorizations(t, credential);
    if (res.status !== 200 && res.status !== 401) throw new Error(`unexpected ${res.status} ${res.text}`);
    return res.status === 200;
  };

  describe('a principal token minted from an access token', () => {
    it('never outlives the token it came from, and carries no more than it', async () => {
      const source = await tokensFor(await person(), 'openid account');
      const res = await principalToken({ bearer: source.access_token });
      expect(res.status).toBe(200);
      const claims = decodeJwt(res.body.access_token);
      expect(claims.exp).toBeLessThanOrEqual(decodeJwt(source.access_token).exp!);
      expect(res.body.scope.split(' ').sort()).toEqual(['account', 'openid']);
      expect(claims.source_jti).toBe(decodeJwt(source.access_token).jti);
    });

    it('dies when the app revokes the source token at /oauth2/revoke', async () => {
      const source = await tokensFor(await person());
      const { access_token } = (await principalToken({ bearer: source.access_token })).body;
      expect(await works({ bearer: access_token })).toBe(true);
      expect((await revoke(app, source.access_token)).status).toBe(200);
      expect(await works({ bearer: access_token })).toBe(false);
      expect(await introspect(access_token)).toBe(false);
    });

    it("dies when the source's refresh-token family is revoked", async () => {
      const source = await tokensFor(await person());
      const { access_token } = (await principalToken({ bearer: source.access_token })).body;
      expect((await revoke(app, source.refresh_token!)).status).toBe(200);
      expect(await works({ bearer: access_token })).toBe(false);
    });

    it("dies when the user revokes the source's grant", async () => {
      const who = await person();
      const source = await tokensFor(who);
      const { access_token } = (await principalToken({ bearer: source.access_token })).body;
      const [grant] = (await request(t.url).get('/api/v0/users/me/oauth2/authorizations').set('Cookie', who.cookie)).body.items;
      expect((await request(t.url).delete(`/api/v0/users/me/oauth2/authorizations/${grant.grant_id}`).set('Cookie', who.cookie)).status).toBe(204);
      expect(await works({ bearer: access_token })).toBe(false);
    });

    it('cannot mint another principal token', async () => {
      const source = await tokensFor(await person());
      const { access_token } = (await principalToken({ bearer: source.access_token })).body;
      const res = await principalToken({ bearer: access_token });
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    });
  });

  describe('a principal token minted from a browser session', () => {
    it('ends with the session: it stops working after sign-out', async () => {
      const who = await person();
      const res = await principalToken({ cookie: who.cookie });
      expect(res.status).toBe(200);
      const { access_token } = res.body;
      const home = await request(t.url).get('/').set('Cookie', who.cookie);
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(home.text)![1];
      expect((await request(t.url).post('/logout').set('Cookie', who.cookie).type('form').send({ csrf_token: csrf })).status).toBe(303);
      expect(await works({ bearer: access_token })).toBe(false);
    });

    it('never outlives the session', async () => {
      const who = await person();
      await sql(t, `UPDATE browser_sessions SET expires_at = now() + interval '2 minutes' WHERE user_id = $1`, [who.id]);
      const claims = decodeJwt((await principalToken({ cookie: who.cookie })).body.access_token);
      expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(120);
    });
  });

  describe('a delegated token', () => {
    const delegate = (credential: { cookie: string } | { bearer: string }, sub: string) => {
      const req = request(t.url).post('/api/v1/oauth2/delegated-token').send({ sub, scopes: ['account'] });
      return 'cookie' in credential ? req.set('Cookie', credential.cookie) : req.set('Authorization', `Bearer ${credential.bearer}`);
    };

    it("ends with the admin's session it was minted from", async () => {
      const boss = await person('admin');
      const subject = await person();
      const res = await delegate({ cookie: boss.cookie }, subject.id);
      expect(res.status).toBe(200);
      expect(await works({ bearer: res.body.access_token })).toBe(true);
      const home = await request(t.url).get('/').set('Cookie', boss.cookie);
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(home.text)![1];
      await request(t.url).post('/logout').set('Cookie', boss.cookie).type('form').send({ csrf_token: csrf });
      expect(await works({ bearer: res.body.access_token })).toBe(false);
    });

    it('cannot be minted with a principal token, so a stolen session leaves no chain of tokens behind', async () => {
      const boss = await person('admin');
      const principal = (await principalToken({ cookie: boss.cookie })).body.access_token;
      const res = await delegate({ bearer: principal }, (await person()).id);
      expect(res.status).toBe(403);
    });

    it("stops working when its subject's password changes", async () => {
      const subject = await person();
      const res = await delegate({ cookie: admin }, subject.id);
      expect(await works({ bearer: res.body.access_token })).toBe(true);
      expect((await request(t.url).patch(`/api/v1/users/${subject.id}`).set('Cookie', admin).send({ password: 'another-new-password-7' })).status).toBe(200);
      const [{ recent }] = await sql<{ recent: boolean }>(t, `SELECT tokens_not_before > now() - interval '1 minute' AS recent FROM users WHERE id = $1`, [subject.id]);
      expect(recent).toBe(true);
      // `iat` has whole seconds: place the change in the second after the token's, as it is unless both fell in one.
      await sql(t, `UPDATE users SET tokens_not_before = to_timestamp($2 + 1) WHERE id = $1`, [subject.id, decodeJwt(res.body.access_token).iat]);
      expect(await works({ bearer: res.body.access_token })).toBe(false);
      expect(await introspect(res.body.access_token)).toBe(false);
    });
  });

  describe('deleting an app', () => {
    it('denies its client_credentials tokens, which no row records', async () => {
      const machine = await createApp(t, admin, { name: 'machine', grant_types: ['client_credentials'], redirect_uris: undefined, scope: 'openid' });
      const cc = await request(t.url).post('/oauth2/token').set('Authorization', basic(machine.clientId, machine.clientSecret!)).type('form').send({ grant_type: 'client_credentials' });
      expect(cc.status).toBe(200);
      expect(await introspect(cc.body.access_token)).toBe(true);
      expect((await request(t.url).delete(`/api/v1/oauth2/apps/${machine.id}`).set('Cookie', admin)).status).toBe(204);
      expect(await introspect(cc.body.access_token)).toBe(false);
    });

    it('denies its live access tokens at once, and its refresh tokens are gone', async () => {
      const doomed = await createApp(t, admin, { name: 'doomed', scope: 'openid offline_access account', grant_types: ['authorization_code', 'refresh_token'] });
      const tokens = await tokensFor(await person(), 'openid offline_access account', doomed);
      expect(await works({ bearer: tokens.access_token })).toBe(true);
      expect((await request(t.url).delete(`/api/v1/oauth2/apps/${doomed.id}`).set('Cookie', admin)).status).toBe(204);
      expect(await works({ bearer: tokens.access_token })).toBe(false);
      expect(await introspect(tokens.access_token)).toBe(false);
      const [{ jti }] = [decodeJwt(tokens.access_token)];
      expect(await sql(t, 'SELECT jti FROM revoked_access_tokens WHERE jti = $1', [jti])).toHaveLength(1);
    });

    it('through the sweep of unused self-registered apps, denies their access tokens too', async () => {
      const registered = await request(t.url).post('/oauth2/register').send({
        client_name: 'Swept', redirect_uris: ['https://swept.example.com/cb'], grant_types: ['authorization_code'],
      });
      const swept: RegisteredApp = { id: '', clientId: registered.body.client_id, clientSecret: registered.body.client_secret, redirectUri: 'https://swept.example.com/cb' };
      const tokens = await tokensFor(await person(), 'openid profile', swept);
      const userinfo = () => request(t.url).get('/oauth2/userinfo').set('Authorization', `Bearer ${tokens.access_token}`);
      expect((await userinfo()).status).toBe(200);
      // Its use is written behind: written first, then made old.
      await t.app.get(AppsService).flushUsage();
      await sql(t, `UPDATE apps SET last_used_at = now() - interval '60 days' WHERE client_id = $1`, [swept.clientId]);
      const { DcrCleanupService } = await import('../../src/clients/registration/dcr-cleanup.service');
      expect(await t.app.get(DcrCleanupService).sweep()).toBe(1);
      expect((await userinfo()).status).toBe(401);
    });
  });

  describe("a user's role, password or existence", () => {
    it.each([
      ['demoted', { role: 'user' }, 'admin'],
      ['given a new password', { password: 'a-brand-new-password-42' }, 'user'],
    ] as const)('when %s, ends their browser sessions, refresh families and access tokens', async (_what, patch, role) => {
      const who = await person(role);
      const tokens = await tokensFor(who);
      expect(await works({ cookie: who.cookie })).toBe(true);
      const res = await request(t.url).patch(`/api/v1/users/${who.id}`).set('Cookie', admin).send(patch);
      expect(res.status).toBe(200);
      expect(await works({ cookie: who.cookie })).toBe(false);
      expect(await works({ bearer: tokens.access_token })).toBe(false);
      expect((await refresh(app, tokens.refresh_token!)).body.error).toBe('invalid_grant');
    });

    it('when only their name changes, leaves everything working', async () => {
      const who = await person();
      const tokens = await tokensFor(who);
      expect((await request(t.url).patch(`/api/v1/users/${who.id}`).set('Cookie', admin).send({ given_name: 'Renamed' })).status).toBe(200);
      expect(await works({ cookie: who.cookie })).toBe(true);
      expect((await refresh(app, tokens.refresh_token!)).status).toBe(200);
    });

    it('when deleted, their access tokens are denied in the same transaction', async () => {
      const who = await person();
      const tokens = await tokensFor(who);
      expect((await request(t.url).delete(`/api/v1/users/${who.id}`).set('Cookie', admin)).status).toBe(204);
      expect(await introspect(tokens.access_token)).toBe(false);
      expect(await sql(t, 'SELECT jti FROM revoked_access_tokens WHERE jti = $1', [decodeJwt(tokens.access_token).jti])).toHaveLength(1);
    });
  });

  describe('a refresh', () => {
    it("re-cuts the scopes to what the app allows now", async () => {
      const narrowing = await createApp(t, admin, { name: 'narrowing', scope: 'openid profile offline_access account', grant_types: ['authorization_code', 'refresh_token'] });
      const tokens = await tokensFor(await person(), 'openid profile offline_access account', narrowing);
      expect((await request(t.url).patch(`/api/v1/oauth2/apps/${narrowing.id}`).set('Cookie', admin).send({ scope: 'openid profile offline_access' })).status).toBe(200);
      const res = await refresh(narrowing, tokens.refresh_token!);
      expect(res.status).toBe(200);
      expect(res.body.scope.split(' ').sort()).toEqual(['offline_access', 'openid', 'profile']);
      // The new refresh token was cut too: a later refresh cannot win `account` back.
      const again = await refresh(narrowing, res.body.refresh_token);
      expect(again.body.scope.split(' ')).not.toContain('account');
    });
  });
});
