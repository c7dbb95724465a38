import { decodeJwt } from 'jose';
import request from 'supertest';
import { issueTokens } from '../helpers/protocol';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { createServiceAccount, createUser, signIn } from '../helpers/identity';
import { authorizeAndConsent, authorizeParams, consentForm, getAuthorize, locationParams, pkce, postDecision } from '../helpers/oauth';

/**
 * SPEC §2–§3 (issue 10 items 1, 2, 4, 5): no code the user did not approve — the JSON authorize API is the server's
 * own consent UI, self-registered apps never get `account` or `admin`, nobody is redirected to an address nobody
 * vouched for, and remembered consent covers resources as well as scopes.
 */
describe('consent means what it shows', () => {
  let t: TestApp;
  let admin: string;
  let app: RegisteredApp;
  let users = 0;

  beforeAll(async () => {
    t = await bootApp({ env: { OAUTH2_DCR_ENABLED: 'true', OAUTH2_DCR_RATE_LIMIT: '0' } });
    admin = await signIn(t);
    app = await createApp(t, admin, { name: 'trusted', scope: 'openid profile offline_access account admin', grant_types: ['authorization_code', 'refresh_token'] });
  });
  afterAll(() => t.close());

  async function signedInUser(): Promise<string> {
    const user = await createUser(t, admin, { username: `consent-${++users}` });
    return signIn(t, user.username, user.password);
  }
  const accessToken = async (cookie: string, scope: string, client = app) => (await issueTokens(t, client, cookie, { scope })).access_token;
  async function register(metadata: Record<string, unknown> = {}): Promise<request.Response> {
    return request(t.url).post('/oauth2/register').send({ client_name: 'Self', redirect_uris: ['https://self.example.net/cb'], ...metadata });
  }
  async function selfRegistered(): Promise<RegisteredApp> {
    const res = await register();
    if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${res.text}`);
    return { id: '', clientId: res.body.client_id, clientSecret: res.body.client_secret, redirectUri: 'https://self.example.net/cb' };
  }
  const jsonAuthorize = (client: RegisteredApp, extra: Record<string, unknown> = {}) => ({
    client_id: client.clientId, redirect_uri: client.redirectUri, response_type: 'code', scope: ['openid', 'admin'], state: 's', code_challenge: pkce().challenge, code_challenge_method: 'S256', ...extra,
  });
  const counts = async () => (await sql<{ grants: number; codes: number }>(t, 'SELECT (SELECT count(*)::int FROM grants) AS grants, (SELECT count(*)::int FROM authorization_codes) AS codes'))[0];

  describe('POST /api/v1/oauth2/authorize is the server’s own consent UI', () => {
    it.each([['account'], ['admin'], ['account admin']])('refuses an app’s access token with scope "%s": 403, and no grant, no code', async (scope) => {
      const token = await accessToken(admin, `openid ${scope}`);
      const victim = await createApp(t, admin, { name: 'victim', token_endpoint_auth_method: 'none', redirect_uris: ['https://victim.example.com/cb'] });
      const before = await counts();
      const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Authorization', `Bearer ${token}`).send(jsonAuthorize(victim));
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(JSON.parse(res.text)).toMatchObject({ type: 'forbidden', status: 403 });
      expect(await counts()).toEqual(before);
    });

    it('accepts a browser session from our own origin', async () => {
      const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Cookie', admin).set('Origin', new URL(t.url).origin).send(jsonAuthorize(app));
      expect(res.status).toBe(200);
      expect(new URL(res.body.redirect_uri).searchParams.get('code')).toEqual(expect.any(String));
    });

    it('refuses a browser session from another origin', async () => {
      const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Cookie', admin).set('Origin', 'https://evil.example').send(jsonAuthorize(app));
      expect(res.status).toBe(403);
    });

    it('lets a service account through authentication but not approve for a user it is not', async () => {
      const account = await createServiceAccount(t, admin, 'consent-ui', 'admin');
      const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Authorization', `Bearer ${account.token}`).send(jsonAuthorize(app));
      expect(res.status).toBe(403);
      expect(JSON.parse(res.text).title).toMatch(/service account/);
    });

    it("records the session's real auth_time, not the time of the request", async () => {
      const cookie = await signedInUser();
      await sql(t, `UPDATE browser_sessions SET authenticated_at = now() - interval '1 hour'`);
      const { verifier, challenge } = pkce();
      const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Cookie', cookie)
        .send(jsonAuthorize(app, { scope: ['openid'], code_challenge: challenge }));
      expect(res.status).toBe(200);
      const code = new URL(res.body.redirect_uri).searchParams.get('code')!;
      const tokens = await request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form')
        .send({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: app.redirectUri });
      const authTime = decodeJwt(tokens.body.id_token).auth_time as number;
      expect(Math.floor(Date.now() / 1000) - authTime).toBeGreaterThanOrEqual(3500);
    });
  });

  describe('account and admin are never granted to a self-registered app', () => {
    it.each([['account'], ['admin'], ['openid account']])('refuses to register scope "%s" with invalid_client_metadata', async (scope) => {
      const res = await register({ scope });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_client_metadata');
    });

    it('leaves both out of the default scope of a self-registered app', async () => {
      const res = await register();
      expect(res.body.scope.split(' ')).not.toContain('account');
      expect(res.body.scope.split(' ')).not.toContain('admin');
    });

    it('grants neither to a self-registered app that got them into its registration before', async () => {
      const self = await selfRegistered();
      await sql(t, `UPDATE apps SET scopes = '{openid,account,admin}' WHERE client_id = $1`, [self.clientId]);
      const token = await accessToken(admin, 'openid account admin', self);
      expect((decodeJwt(token).scope as string).split(' ')).toEqual(['openid']);
    });

    it('describes plainly what account allows', async () => {
      const scopes = (await request(t.url).get('/oauth2/scopes')).body.scopes as { name: string; description: string }[];
      expect(scopes.find((s) => s.name === 'account')!.description).toMatch(/as you/i);
    });
  });

  describe('no redirect to an address nobody vouched for (RFC 9700 §4.11.2)', () => {
    const stepTwoErrors: [string, Record<string, string | undefined>][] = [
      ['an unsupported response_type', { response_type: 'token' }],
      ['an unknown scope', { scope: 'openid nonsense' }],
      ['no PKCE', { code_challenge: undefined, code_challenge_method: undefined }],
      ['code_challenge_method=plain', { code_challenge_method: 'plain' }],
    ];

    it.each(stepTwoErrors)('shows %s for an unapproved self-registered app on the error page naming its redirect host', async (_what, extra) => {
      const self = await selfRegistered();
      const res = await getAuthorize(t, authorizeParams(self, pkce().challenge, extra), await signedInUser());
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('self.example.net');
    });

    it('shows the error page without a session too, instead of sending the browser to sign in first', async () => {
      const self = await selfRegistered();
      const res = await getAuthorize(t, authorizeParams(self, pkce().challenge, { response_type: 'token' }));
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
    });

    it.each([
      ['login_required, without a session', false],
      ['consent_required, with a session', true],
    ])('shows prompt=none’s %s on the error page too: it would redirect without the user', async (_what, withSession) => {
      const self = await selfRegistered();
      const res = await getAuthorize(t, authorizeParams(self, pkce().challenge, { prompt: 'none' }), withSession ? await signedInUser() : undefined);
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.text).toContain('self.example.net');
    });

    it('redirects the error once the user approved the app', async () => {
      const self = await selfRegistered();
      const cookie = await signedInUser();
      await authorizeAndConsent(t, self, cookie, { scope: 'openid' });
      const res = await getAuthorize(t, authorizeParams(self, pkce().challenge, { response_type: 'token' }), cookie);
      expect(res.status).toBe(303);
      expect(locationParams(res)).toMatchObject({ base: self.redirectUri, params: { error: 'unsupported_response_type', iss: t.url } });
    });

    it('still redirects the error for an app an admin registered', async () => {
      const res = await getAuthorize(t, authorizeParams(app, pkce().challenge, { response_type: 'token' }), await signedInUser());
      expect(res.status).toBe(303);
      expect(locationParams(res).params.error).toBe('unsupported_response_type');
    });

    it('ends the sign-in chain into such an error on the error page', async () => {
      const self = await selfRegistered();
      const params = new URLSearchParams({ client_id: self.clientId, redirect_uri: self.redirectUri, response_type: 'token', state: 'x' });
      const login = await request(t.url).get(`/login?return_to=${encodeURIComponent(`/oauth2/authorize?${params}`)}`);
      const returnTo = /name="return_to" value="([^"]*)"/.exec(login.text)![1].replace(/&amp;/g, '&').replace(/&#x3D;/g, '=');
      const after = await request(t.url).get(returnTo).set('Cookie', await signedInUser()).redirects(0);
      expect(after.status).toBe(400);
      expect(after.headers.location).toBeUndefined();
    });
  });

  describe('remembered consent covers resources', () => {
    const ONE = 'https://api.one.example';
    const TWO = 'https://api.two.example';

    it('asks again for a resource not approved before, and lists it on the consent page', async () => {
      const cookie = await signedInUser();
      await authorizeAndConsent(t, app, cookie, { scope: 'openid', resource: ONE });
      const same = await getAuthorize(t, authorizeParams(app, pkce().challenge, { scope: 'openid', resource: ONE }), cookie);
      expect(same.status).toBe(303);
      const other = await getAuthorize(t, authorizeParams(app, pkce().challenge, { scope: 'openid', resource: TWO }), cookie);
      expect(other.status).toBe(200);
      expect(other.text).toContain(TWO);
    });

    it('answers consent_required under prompt=none for a new resource', async () => {
      const cookie = await signedInUser();
      await authorizeAndConsent(t, app, cookie, { scope: 'openid', resource: ONE });
      const res = await getAuthorize(t, authorizeParams(app, pkce().challenge, { scope: 'openid', resource: TWO, prompt: 'none' }), cookie);
      expect(res.status).toBe(303);
      expect(locationParams(res).params.error).toBe('consent_required');
    });

    it('asks again for a request naming no resource after only a resource was approved: its tokens would be for this server', async () => {
      const cookie = await signedInUser();
      await authorizeAndConsent(t, app, cookie, { scope: 'openid', resource: ONE });
      const res = await getAuthorize(t, authorizeParams(app, pkce().challenge, { scope: 'openid' }), cookie);
      expect(res.status).toBe(200);
    });

    it('remembers the resource once allowed', async () => {
      const cookie = await signedInUser();
      const page = await getAuthorize(t, authorizeParams(app, pkce().challenge, { scope: 'openid', resource: TWO }), cookie);
      await postDecision(t, cookie, consentForm(page.text), { decision: 'allow' });
      const [row] = await sql<{ resources: string[] }>(t, `SELECT g.resources FROM grants g JOIN browser_sessions s ON s.user_id = g.user_id
        WHERE s.id_hash = encode(sha256(convert_to($1, 'UTF8')), 'hex')`, [cookie.split('=')[1]]);
      expect(row.resources).toEqual([TWO]);
    });
  });

  describe('the sign-in detour carries the authorization parameters only', () => {
    it('drops anything else a caller put in the request', async () => {
      const res = await getAuthorize(t, { ...authorizeParams(app, pkce().challenge), password: 'hunter2', client_secret: 'oops' });
      expect(res.status).toBe(303);
      const returnTo = new URL(res.headers.location, t.url).searchParams.get('return_to')!;
      expect(returnTo).toContain('client_id=');
      expect(returnTo).not.toContain('hunter2');
      expect(returnTo).not.toContain('client_secret');
    });
  });
});
