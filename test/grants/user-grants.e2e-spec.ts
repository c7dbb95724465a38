import request from 'supertest';
import { sql } from '../helpers/database';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { createServiceAccount, createUser, signIn } from '../helpers/identity';
import { authorizeAndConsent, authorizeParams, getAuthorize, pkce } from '../helpers/oauth';

/**
 * What a user granted, and taking it back (SPEC §2 `/api/v0/users/me/oauth2/…`): the authorizations (grants) and
 * the sessions (live refresh-token families) of the caller, never of anyone else. Callers are a browser session
 * or an access token of this server carrying `account`; a service account has no grants.
 *
 * Every test that looks at a list makes its own user, so the lists hold exactly what that test put there.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** RFC 3339 `date-time` (§5.6), with fractional seconds allowed and an explicit offset. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const BASE = '/api/v0/users/me/oauth2';
const problem = (type: string, status: number) => ({ type, title: expect.any(String), status, request_id: expect.any(String) });

interface Caller {
  readonly id: string;
  readonly username: string;
  readonly cookie: string;
}

interface Tokens {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly scope: string;
}

describe('the users’ grants and sessions API', () => {
  let t: TestApp;
  let admin: string;
  /** Provenance `api`, registered by the admin. */
  let notes: RegisteredApp;
  /** Provenance `dcr`, registered by itself. */
  let agent: RegisteredApp;
  let users = 0;

  beforeAll(async () => {
    t = await bootApp({ env: { OAUTH2_DCR_ENABLED: 'true' } });
    admin = await signIn(t);
    notes = await createApp(t, admin, {
      name: 'notes', display_name: 'Acme Notes', grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['https://notes.example.com/callback'],
    });
    const registered = await request(t.url).post('/oauth2/register').send({
      client_name: 'MCP Agent', redirect_uris: ['https://agent.example.com/callback'], grant_types: ['authorization_code', 'refresh_token'],
    });
    if (registered.status !== 201) throw new Error(`registration failed: ${registered.status} ${registered.text}`);
    agent = { id: '', clientId: registered.body.client_id, clientSecret: registered.body.client_secret, redirectUri: 'https://agent.example.com/callback' };
  });
  afterAll(() => t.close());

  /** A fresh user, signed in. */
  async function newUser(): Promise<Caller> {
    const user = await createUser(t, admin, { username: `user${++users}` });
    return { id: user.id, username: user.username, cookie: await signIn(t, user.username, user.password) };
  }

  /** Authorization code flow through consent, then the code exchange: the app's tokens for the user. */
  /** `offline_access` by default: an OpenID request gets a refresh token only with it (SPEC §4). */
  async function connect(app: RegisteredApp, user: Caller, scope = 'openid profile offline_access'): Promise<Tokens> {
    const { code, verifier } = await authorizeAndConsent(t, app, user.cookie, { scope });
    const res = await request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form')
      .send({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: app.redirectUri });
    if (res.status !== 200) throw new Error(`code exchange failed: ${res.status} ${res.text}`);
    return res.body as Tokens;
  }

  const refresh = (app: RegisteredApp, refreshToken: string) =>
    request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form')
      .send({ grant_type: 'refresh_token', refresh_token: refreshToken });
  const userinfo = (accessToken: string) => request(t.url).get('/oauth2/userinfo').set('Authorization', `Bearer ${accessToken}`);

  /** A request to the API as a session (a `session_id=…` cookie) or with a bearer token. */
  function api(method: 'get' | 'post' | 'delete', path: string, credential?: { cookie: string } | { bearer: string }): request.Test {
    const req = request(t.url)[method](`${BASE}${path}`);
    if (credential && 'cookie' in credential) return req.set('Cookie', credential.cookie);
    if (credential && 'bearer' in credential) return req.set('Authorization', `Bearer ${credential.bearer}`);
    return req;
  }
  const as = (user: Caller) => ({ cookie: user.cookie });

  async function grantsOf(user: Caller): Promise<{ grant_id: string; app_client_id: string; scope: string[] }[]> {
    const res = await api('get', '/authorizations', as(user));
    expect(res.status).toBe(200);
    return res.body.items;
  }
  async function sessionsOf(user: Caller): Promise<{ token_id: string; client_id: string; created_at: number; scope: string }[]> {
    const res = await api('get', '/sessions', as(user));
    expect(res.status).toBe(200);
    return res.body;
  }

  describe('GET /authorizations', () => {
    it('answers {items: []} for a user who granted nothing', async () => {
      const alice = await newUser();
      const res = await api('get', '/authorizations', as(alice));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ items: [] });
    });

    it('lists every grant with exactly the documented fields, an api app and a dcr app', async () => {
      const alice = await newUser();
      const before = Date.now();
      await connect(notes, alice, 'openid profile');
      await connect(agent, alice, 'openid email offline_access');
      const res = await api('get', '/authorizations', as(alice));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        items: [
          {
            grant_id: expect.stringMatching(UUID),
            grant_issued_at: expect.stringMatching(RFC3339),
            app_name: 'notes',
            app_display_name: 'Acme Notes',
            app_client_id: notes.clientId,
            app_provenance: 'api',
            scope: ['openid', 'profile'],
          },
          {
            grant_id: expect.stringMatching(UUID),
            grant_issued_at: expect.stringMatching(RFC3339),
            app_name: 'MCP Agent',
            app_display_name: 'MCP Agent',
            app_client_id: agent.clientId,
            app_provenance: 'dcr',
            scope: ['openid', 'email', 'offline_access'],
          },
        ],
      });
      for (const item of res.body.items) {
        const issued = Date.parse(item.grant_issued_at);
        expect(issued).toBeGreaterThanOrEqual(before - 5_000);
        expect(issued).toBeLessThanOrEqual(Date.now() + 5_000);
      }
      expect(res.body.items[0].grant_id).not.toBe(res.body.items[1].grant_id);
    });

    it('keeps one grant per app and adds newly consented scopes to it', async () => {
      const alice = await newUser();
      await connect(notes, alice, 'openid profile');
      const [first] = await grantsOf(alice);
      await connect(notes, alice, 'email');
      expect(await grantsOf(alice)).toEqual([{ ...first, scope: expect.arrayContaining(['openid', 'profile', 'email']) }]);
      expect((await grantsOf(alice))[0].scope).toHaveLength(3);
    });
  });

  describe('DELETE /authorizations/{id}', () => {
    it('answers 204 with an empty body, and the grant leaves the list', async () => {
      const alice = await newUser();
      await connect(notes, alice);
      await connect(agent, alice);
      const [gone, kept] = await grantsOf(alice);
      const res = await api('delete', `/authorizations/${gone.grant_id}`, as(alice));
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect(await grantsOf(alice)).toEqual([kept]);
    });

    it('answers 204 for an id that does not exist', async () => {
      const alice = await newUser();
      const res = await api('delete', '/authorizations/00000000-0000-4000-8000-000000000000', as(alice));
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
    });

    it('answers 204 for an id that is not a uuid', async () => {
      const alice = await newUser();
      const res = await api('delete', '/authorizations/not-a-uuid', as(alice));
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
    });

    it('makes the refresh tokens issued under the grant fail with invalid_grant at once', async () => {
      const alice = await newUser();
      const tokens = await connect(notes, alice);
      const [grant] = await grantsOf(alice);
      expect((await api('delete', `/authorizations/${grant.grant_id}`, as(alice))).status).toBe(204);
      const res = await refresh(notes, tokens.refresh_token);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
    });

    it('makes the access token of the code exchange fail at userinfo with 401 at once', async () => {
      const alice = await newUser();
      const tokens = await connect(notes, alice);
      expect((await userinfo(tokens.access_token)).status).toBe(200);
      const [grant] = await grantsOf(alice);
      await api('delete', `/authorizations/${grant.grant_id}`, as(alice));
      expect((await userinfo(tokens.access_token)).status).toBe(401);
    });

    it('makes an access token minted by a refresh fail at userinfo with 401 at once', async () => {
      const alice = await newUser();
      const first = await connect(notes, alice);
      const rotated = await refresh(notes, first.refresh_token);
      expect(rotated.status).toBe(200);
      expect((await userinfo(rotated.body.access_token)).status).toBe(200);
      const [grant] = await grantsOf(alice);
      await api('delete', `/authorizations/${grant.grant_id}`, as(alice));
      expect((await userinfo(rotated.body.access_token)).status).toBe(401);
      expect((await refresh(notes, rotated.body.refresh_token)).body.error).toBe('invalid_grant');
    });

    it('makes an authorization code issued under the grant, not yet redeemed, fail with invalid_grant', async () => {
      const alice = await newUser();
      await connect(notes, alice);
      const { code, verifier } = await authorizeAndConsent(t, notes, alice.cookie, { scope: 'openid profile' });
      const [grant] = await grantsOf(alice);
      await api('delete', `/authorizations/${grant.grant_id}`, as(alice));
      const res = await request(t.url).post('/oauth2/token').set('Authorization', basic(notes.clientId, notes.clientSecret!)).type('form')
        .send({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: notes.redirectUri });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
    });

    it('makes the next authorization request show the consent page again instead of an immediate code', async () => {
      const alice = await newUser();
      await connect(notes, alice, 'openid profile');
      const params = () => authorizeParams(notes, pkce().challenge, { scope: 'openid profile' });
      const silent = await getAuthorize(t, params(), alice.cookie);
      expect(silent.status).toBe(303);
      expect(new URL(silent.headers.location).searchParams.get('code')).toEqual(expect.any(String));

      const [grant] = await grantsOf(alice);
      await api('delete', `/authorizations/${grant.grant_id}`, as(alice));
      const again = await getAuthorize(t, params(), alice.cookie);
      expect(again.status).toBe(200);
      expect(again.text).toContain('Acme Notes');
      expect(again.text).toMatch(/Allow/);
    });
  });

  describe('GET /sessions', () => {
    it('answers [] for a user without refresh tokens', async () => {
      const alice = await newUser();
      const res = await api('get', '/sessions', as(alice));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual([]);
    });

    it('lists one session per live refresh-token family with exactly the documented fields', async () => {
      const alice = await newUser();
      const before = Math.floor(Date.now() / 1000);
      await connect(notes, alice, 'openid profile offline_access');
      await connect(agent, alice, 'email offline_access');
      const res = await api('get', '/sessions', as(alice));
      expect(res.status).toBe(200);
      expect(res.body).toEqual(expect.arrayContaining([
        { token_id: expect.stringMatching(UUID), client_name: 'Acme Notes', client_id: notes.clientId, created_at: expect.any(Number), scope: 'openid profile offline_access' },
        { token_id: expect.stringMatching(UUID), client_name: 'MCP Agent', client_id: agent.clientId, created_at: expect.any(Number), scope: 'email offline_access' },
      ]));
      expect(res.body).toHaveLength(2);
      for (const session of res.body) {
        expect(Number.isInteger(session.created_at)).toBe(true);
        expect(session.created_at).toBeGreaterThanOrEqual(before - 5);
        expect(session.created_at).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 5);
      }
    });

    it('counts each code exchange as its own session, also for the same app', async () => {
      const alice = await newUser();
      await connect(notes, alice);
      await connect(notes, alice);
      const sessions = await sessionsOf(alice);
      expect(sessions).toHaveLength(2);
      expect(sessions[0].token_id).not.toBe(sessions[1].token_id);
    });

    it('keeps one session with the same token_id and the original created_at across a refresh rotation', async () => {
      const alice = await newUser();
      const tokens = await connect(notes, alice);
      const [session] = await sessionsOf(alice);
      // Start the family an hour ago, so a created_at taken from the rotated child would show.
      await sql(t, `UPDATE refresh_tokens SET created_at = created_at - interval '1 hour' WHERE family_id = $1`, [session.token_id]);
      const started = session.created_at - 3600;
      expect((await refresh(notes, tokens.refresh_token)).status).toBe(200);
      expect(await sessionsOf(alice)).toEqual([{ ...session, created_at: started }]);
    });

    it('leaves out a family whose refresh token was revoked at the revocation endpoint', async () => {
      const alice = await newUser();
      const tokens = await connect(notes, alice);
      const revoked = await request(t.url).post('/oauth2/revoke').set('Authorization', basic(notes.clientId, notes.clientSecret!)).type('form')
        .send({ token: tokens.refresh_token, token_type_hint: 'refresh_token' });
      expect(revoked.status).toBe(200);
      expect(await sessionsOf(alice)).toEqual([]);
    });
  });

  describe('DELETE /sessions/{token_id}', () => {
    it('answers 204 with an empty body; the session leaves the list and its refresh token stops working', async () => {
      const alice = await newUser();
      const gone = await connect(notes, alice);
      const kept = await connect(agent, alice);
      const sessions = await sessionsOf(alice);
      const target = sessions.find((s) => s.client_id === notes.clientId)!;
      const res = await api('delete', `/sessions/${target.token_id}`, as(alice));
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect(await sessionsOf(alice)).toEqual(sessions.filter((s) => s !== target));
      expect((await refresh(notes, gone.refresh_token)).body).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
      expect((await refresh(agent, kept.refresh_token)).status).toBe(200);
    });

    it('makes the access token of the revoked session fail at userinfo', async () => {
      const alice = await newUser();
      const tokens = await connect(notes, alice);
      const [session] = await sessionsOf(alice);
      await api('delete', `/sessions/${session.token_id}`, as(alice));
      expect((await userinfo(tokens.access_token)).status).toBe(401);
    });

    it('answers 404 problem+json for an unknown token_id', async () => {
      const alice = await newUser();
      const res = await api('delete', '/sessions/00000000-0000-4000-8000-000000000000', as(alice));
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toEqual(problem('not_found', 404));
    });

    it('answers 404 problem+json for a token_id that is not a uuid', async () => {
      const alice = await newUser();
      const res = await api('delete', '/sessions/not-a-uuid', as(alice));
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toEqual(problem('not_found', 404));
    });

    it('answers 404 for a session that was already revoked', async () => {
      const alice = await newUser();
      await connect(notes, alice);
      const [session] = await sessionsOf(alice);
      expect((await api('delete', `/sessions/${session.token_id}`, as(alice))).status).toBe(204);
      expect((await api('delete', `/sessions/${session.token_id}`, as(alice))).status).toBe(404);
    });
  });

  describe('POST /sessions/revoke-all', () => {
    it('answers 200 {message, count} counting each live family once, rotated ones included', async () => {
      const alice = await newUser();
      const first = await connect(notes, alice);
      await connect(agent, alice);
      expect((await refresh(notes, first.refresh_token)).status).toBe(200);
      const res = await api('post', '/sessions/revoke-all', as(alice));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ message: expect.stringMatching(/\S/), count: 2 });
    });

    it('leaves the caller with no sessions', async () => {
      const alice = await newUser();
      await connect(notes, alice);
      await connect(agent, alice);
      await api('post', '/sessions/revoke-all', as(alice));
      expect(await sessionsOf(alice)).toEqual([]);
    });

    it('makes every refresh token of the caller fail', async () => {
      const alice = await newUser();
      const a = await connect(notes, alice);
      const b = await connect(agent, alice);
      await api('post', '/sessions/revoke-all', as(alice));
      expect((await refresh(notes, a.refresh_token)).body.error).toBe('invalid_grant');
      expect((await refresh(agent, b.refresh_token)).body.error).toBe('invalid_grant');
    });

    it('answers count 0 when there is nothing to revoke', async () => {
      const alice = await newUser();
      const res = await api('post', '/sessions/revoke-all', as(alice));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ message: expect.stringMatching(/\S/), count: 0 });
    });

    it('does not count families revoked earlier', async () => {
      const alice = await newUser();
      await connect(notes, alice);
      await connect(notes, alice);
      const [one] = await sessionsOf(alice);
      await api('delete', `/sessions/${one.token_id}`, as(alice));
      expect((await api('post', '/sessions/revoke-all', as(alice))).body.count).toBe(1);
    });
  });

  describe('isolation between users', () => {
    it('does not list another user’s grants', async () => {
      const alice = await newUser();
      const bob = await newUser();
      await connect(notes, alice);
      expect(await grantsOf(bob)).toEqual([]);
    });

    it('does not list another user’s sessions', async () => {
      const alice = await newUser();
      const bob = await newUser();
      await connect(notes, alice);
      expect(await sessionsOf(bob)).toEqual([]);
    });

    it('answers 204 when B deletes A’s grant, and A’s grant and tokens keep working', async () => {
      const alice = await newUser();
      const bob = await newUser();
      const tokens = await connect(notes, alice);
      const before = await grantsOf(alice);
      const res = await api('delete', `/authorizations/${before[0].grant_id}`, as(bob));
      expect(res.status).toBe(204);
      expect(await grantsOf(alice)).toEqual(before);
      expect((await userinfo(tokens.access_token)).status).toBe(200);
      expect((await refresh(notes, tokens.refresh_token)).status).toBe(200);
    });

    it('answers 404 when B deletes A’s session, and A’s session keeps working', async () => {
      const alice = await newUser();
      const bob = await newUser();
      const tokens = await connect(notes, alice);
      const before = await sessionsOf(alice);
      const res = await api('delete', `/sessions/${before[0].token_id}`, as(bob));
      expect(res.status).toBe(404);
      expect(res.body).toEqual(problem('not_found', 404));
      expect(await sessionsOf(alice)).toEqual(before);
      expect((await refresh(notes, tokens.refresh_token)).status).toBe(200);
    });

    it('leaves A’s sessions alone when B revokes all of B’s', async () => {
      const alice = await newUser();
      const bob = await newUser();
      await connect(notes, alice);
      await connect(notes, bob);
      const res = await api('post', '/sessions/revoke-all', as(bob));
      expect(res.body.count).toBe(1);
      expect(await sessionsOf(alice)).toHaveLength(1);
    });
  });

  /**
   * SPEC §7 "a revoked token stops working … at once" and "never a 500": a revocation that meets a refresh in flight
   * must still leave nothing alive, and the refresh must answer 200 or invalid_grant. The race is real but narrow,
   * so each test runs several rounds, starting the revocation a few milliseconds after the refresh.
   */
  describe('under concurrency', () => {
    const ROUNDS = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5];

    /**
     * Races refreshes — one per family, `families` code exchanges of the same grant — against `revoke`; answers
     * what went wrong in this round, or nothing. Every family is expected dead afterwards.
     */
    async function race(
      method: 'post' | 'delete', pathOf: (user: Caller) => Promise<string>, revokeStatus: number, delay: number, families: number,
    ): Promise<string[]> {
      const alice = await newUser();
      const issued: Tokens[] = [];
      for (let i = 0; i < families; i++) issued.push(await connect(notes, alice));
      const path = await pathOf(alice);
      const revoke = () => api(method, path, as(alice));
      const refreshing = Promise.all(issued.map((tokens) => refresh(notes, tokens.refresh_token)));
      const [refreshed, revoked] = await Promise.all([refreshing, new Promise((resolve) => setTimeout(resolve, delay)).then(revoke)]);
      const wrong: string[] = [];
      if (revoked.status !== revokeStatus) wrong.push(`revocation answered ${revoked.status}`);
      for (const res of refreshed) {
        if (res.status !== 200 && !(res.status === 400 && res.body.error === 'invalid_grant')) wrong.push(`refresh answered ${res.status} ${JSON.stringify(res.body)}`);
        if (res.status !== 200) continue;
        if ((await userinfo(res.body.access_token)).status !== 401) wrong.push('the access token minted by the racing refresh still works');
        if ((await refresh(notes, res.body.refresh_token)).status !== 400) wrong.push('the refresh token minted by the racing refresh still works');
      }
      if ((await sessionsOf(alice)).length !== 0) wrong.push('a session is still listed');
      return wrong.map((w) => `delay ${delay} ms: ${w}`);
    }

    it('revoking a grant while its refresh token is being used leaves nothing alive, and the refresh never answers 500', async () => {
      const wrong: string[] = [];
      for (const delay of [...ROUNDS, ...ROUNDS]) {
        wrong.push(...await race('delete', async (user) => `/authorizations/${(await grantsOf(user))[0].grant_id}`, 204, delay, 1));
      }
      expect(wrong).toEqual([]);
    }, 180_000);

    it('revoke-all while a refresh token is being used leaves no live session and no working token', async () => {
      const wrong: string[] = [];
      for (const delay of ROUNDS) wrong.push(...await race('post', async () => '/sessions/revoke-all', 200, delay, 3));
      expect(wrong).toEqual([]);
    }, 180_000);

    it('revoking a session while its refresh token is being used leaves no working token', async () => {
      const wrong: string[] = [];
      for (const delay of [...ROUNDS, ...ROUNDS]) {
        wrong.push(...await race('delete', async (user) => `/sessions/${(await sessionsOf(user))[0].token_id}`, 204, delay, 1));
      }
      expect(wrong).toEqual([]);
    }, 180_000);
  });

  describe('who may call', () => {
    /** Every route, each with a harmless target and the status that shows the caller was let in. */
    const ROUTES: [string, 'get' | 'post' | 'delete', string, number][] = [
      ['GET /authorizations', 'get', '/authorizations', 200],
      ['DELETE /authorizations/{id}', 'delete', '/authorizations/00000000-0000-4000-8000-000000000000', 204],
      ['GET /sessions', 'get', '/sessions', 200],
      ['DELETE /sessions/{token_id}', 'delete', '/sessions/00000000-0000-4000-8000-000000000000', 404],
      ['POST /sessions/revoke-all', 'post', '/sessions/revoke-all', 200],
    ];

    it.each(ROUTES)('%s lets in a browser session', async (_name, method, path, status) => {
      const alice = await newUser();
      expect((await api(method, path, as(alice))).status).toBe(status);
    });

    it.each(ROUTES)('%s lets in an access token of this server with the account scope', async (_name, method, path, status) => {
      const alice = await newUser();
      const { access_token } = await connect(notes, alice, 'account');
      expect((await api(method, path, { bearer: access_token })).status).toBe(status);
    });

    it('an account-scoped access token acts as its sub: it sees that user’s grants', async () => {
      const alice = await newUser();
      await connect(agent, alice, 'openid');
      const { access_token } = await connect(notes, alice, 'account');
      const res = await api('get', '/authorizations', { bearer: access_token });
      expect(res.status).toBe(200);
      expect(res.body.items.map((i: { app_client_id: string }) => i.app_client_id)).toEqual([agent.clientId, notes.clientId]);
    });

    it('an account-scoped access token revokes the user’s own session', async () => {
      const alice = await newUser();
      const victim = await connect(agent, alice);
      const { access_token } = await connect(notes, alice, 'account');
      const session = (await sessionsOf(alice)).find((s) => s.client_id === agent.clientId)!;
      expect((await api('delete', `/sessions/${session.token_id}`, { bearer: access_token })).status).toBe(204);
      expect((await refresh(agent, victim.refresh_token)).body.error).toBe('invalid_grant');
    });

    it.each(ROUTES)('%s refuses an access token without the account scope: 403 insufficient_scope', async (_name, method, path) => {
      const alice = await newUser();
      const { access_token } = await connect(notes, alice, 'openid profile');
      const res = await api(method, path, { bearer: access_token });
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toEqual(problem('forbidden', 403));
      expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
      expect(res.headers['www-authenticate']).toContain('scope="account"');
    });

    it('does nothing for a token without the account scope: the grant survives its DELETE', async () => {
      const alice = await newUser();
      const { access_token } = await connect(notes, alice, 'openid');
      const before = await grantsOf(alice);
      expect((await api('delete', `/authorizations/${before[0].grant_id}`, { bearer: access_token })).status).toBe(403);
      expect(await grantsOf(alice)).toEqual(before);
    });

    it.each(ROUTES)('%s refuses a caller without credentials: 401 with a Bearer challenge', async (_name, method, path) => {
      const res = await api(method, path);
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toEqual(problem('unauthorised', 401));
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    it.each(ROUTES)('%s refuses a service-account token: 403', async (_name, method, path) => {
      const robot = await createServiceAccount(t, admin, `robot-${++users}`, 'admin');
      const res = await api(method, path, { bearer: robot.token });
      expect(res.status).toBe(403);
      expect(res.body).toEqual(problem('forbidden', 403));
    });

    it('refuses an access token whose grant was revoked: 401 invalid_token', async () => {
      const alice = await newUser();
      const { access_token } = await connect(notes, alice, 'account');
      const [grant] = await grantsOf(alice);
      expect((await api('delete', `/authorizations/${grant.grant_id}`, { bearer: access_token })).status).toBe(204);
      const res = await api('get', '/authorizations', { bearer: access_token });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    });

    it('never takes the access token from the query string', async () => {
      const alice = await newUser();
      const { access_token } = await connect(notes, alice, 'account');
      const res = await request(t.url).get(`${BASE}/authorizations?access_token=${encodeURIComponent(access_token)}`);
      expect(res.status).toBe(401);
    });
  });
});
