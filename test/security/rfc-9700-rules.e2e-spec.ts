import { decodeJwt } from 'jose';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { bootApp, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { createUser, loginForm, postLogin, signIn } from '../helpers/identity';
import { authorizeAndConsent, authorizeParams, consentForm, getAuthorize, locationParams, Params, pkce, postDecision } from '../helpers/oauth';
import {
  exchange,
  expectErrorPage,
  expectErrorRedirect,
  introspect,
  issueTokens,
  oauthError,
  refresh,
  registerApp,
  rotate,
  tokenRequest,
  userinfo,
  WITH_REFRESH,
} from '../helpers/protocol';

/**
 * RFC 9700 (OAuth 2.0 Security Best Current Practice, BCP 240): the rules it sets for an authorization server, one
 * describe per section and the rule quoted in every test name. Left out, as they bind clients, resource servers
 * or features this server does not have: sender-constrained tokens (§2.2.1, §4.10.1: no mTLS or DPoP here), the
 * clients' own duties (§4.4.2 checking `iss`, §4.11.1), in-browser communication (§4.17: no postMessage
 * responses) and TLS termination (§4.13, beyond the one thing the server itself decides: whom it trusts for the
 * client's address). Each test makes its own user; the apps registered in `beforeAll` are only read.
 */

const INACTIVE = { active: false };
const unique = () => randomBytes(4).toString('hex');
/** Authenticated clients get this for an unknown grant type: client authentication runs first (RFC 6749 §5.2). */
const PROBE = { grant_type: 'urn:example:nothing' };

describe('RFC 9700: the authorization server’s rules', () => {
  let t: TestApp;
  let admin: string;
  /** Confidential (client_secret_basic), code + refresh tokens. */
  let web: RegisteredApp;
  /** Public (none), code + refresh tokens. */
  let spa: RegisteredApp;
  /** Public native app with a loopback redirect URI (RFC 8252 §7.3). */
  let native: RegisteredApp;
  /** A web app whose redirect URI happens to be on the loopback interface: no port exception for it. */
  let loopbackWeb: RegisteredApp;
  /** Another confidential client (client_secret_basic) with the code grant. */
  let other: RegisteredApp;
  /** Confidential, registered for client_secret_post. */
  let postApp: RegisteredApp;
  /** Confidential client_credentials client; also the resource server that introspects access tokens. */
  let daemon: RegisteredApp;
  const { challenge } = pkce();

  async function freshUser(): Promise<{ id: string; username: string; password: string; cookie: string }> {
    const user = await createUser(t, admin, { username: `u-${unique()}` });
    return { ...user, cookie: await signIn(t, user.username, user.password) };
  }
  const isActive = async (token: string) => (await introspect(t, daemon, token)).body;

  beforeAll(async () => {
    t = await bootApp({ env: { OAUTH2_DCR_ENABLED: 'true', OAUTH2_DCR_RATE_LIMIT: '0' } });
    admin = await signIn(t);
    web = await createApp(t, admin, { name: 'web', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://web.example.com/cb', 'https://web.example.com/other'] });
    spa = await createApp(t, admin, { name: 'spa', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://spa.example.com/cb'] });
    native = await createApp(t, admin, { name: 'cli', application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1:1234/callback'] });
    loopbackWeb = await createApp(t, admin, { name: 'loopback-web', redirect_uris: ['http://127.0.0.1:1234/callback'] });
    other = await createApp(t, admin, { name: 'other', redirect_uris: ['https://other.example.com/cb'] });
    postApp = await createApp(t, admin, { name: 'post', token_endpoint_auth_method: 'client_secret_post', redirect_uris: ['https://post.example.com/cb'] });
    daemon = await createApp(t, admin, { name: 'daemon', grant_types: ['client_credentials'], redirect_uris: [] });
  }, 60_000);
  afterAll(() => t?.close());

  describe('§2.1 and §4.1.3: redirect URI matching', () => {
    it.each([
      'https://web.example.com/cb/',
      'https://web.example.com/cb?x=1',
      'https://web.example.com/cb#x',
      'https://Web.example.com/cb',
      'https://web.example.com:443/cb',
      'https://web.example.com/./cb',
      'https://web.example.com/c%62',
      'https://web.example.com.attacker.example/cb',
      'https://attacker.example/.web.example.com/cb',
    ])('§4.1.3 «the authorization server MUST ensure that the two URIs are equal» — %j is not: the 400 page, no redirect', async (redirectUri) => {
      const { cookie } = await freshUser();
      expectErrorPage(await getAuthorize(t, authorizeParams(web, challenge, { redirect_uri: redirectUri }), cookie));
    });

    it('§2.1 «authorization servers MUST utilize exact string matching except for port numbers in localhost redirection URIs of native apps» — a native app gets its code on another loopback port', async () => {
      const { cookie } = await freshUser();
      const page = await getAuthorize(t, authorizeParams(native, challenge, { redirect_uri: 'http://127.0.0.1:50123/callback' }), cookie);
      const res = await postDecision(t, cookie, consentForm(page.text), { decision: 'allow' });
      expect(res.status).toBe(303);
      expect(locationParams(res)).toEqual({ base: 'http://127.0.0.1:50123/callback', params: { code: expect.any(String), state: expect.any(String), iss: t.url } });
    });

    it('§2.1 «… except for port numbers …» — only the port: a native app’s loopback URI with another path gets the 400 page', async () => {
      const { cookie } = await freshUser();
      expectErrorPage(await getAuthorize(t, authorizeParams(native, challenge, { redirect_uri: 'http://127.0.0.1:50123/elsewhere' }), cookie));
    });

    it('§2.1 «… localhost redirection URIs of native apps» — a web app’s loopback URI on another port gets the 400 page', async () => {
      const { cookie } = await freshUser();
      expectErrorPage(await getAuthorize(t, authorizeParams(loopbackWeb, challenge, { redirect_uri: 'http://127.0.0.1:4321/callback' }), cookie));
    });
  });

  describe('§2.1: no open redirectors', () => {
    const RULE = "§2.1 «Clients and authorization servers MUST NOT expose URLs that forward the user's browser to arbitrary URIs obtained from a query parameter (open redirectors)»";

    it(`${RULE} — /oauth2/authorize with an unknown client_id does not follow its redirect_uri`, async () => {
      const res = await getAuthorize(t, authorizeParams({ ...web, clientId: 'unknown-client', redirectUri: 'https://attacker.example/cb' }, challenge));
      expectErrorPage(res);
    });

    it.each(['https://attacker.example/', '//attacker.example/', '/\\attacker.example'])(`${RULE} — /login with return_to=%j lands on this origin`, async (returnTo) => {
      const user = await createUser(t, admin, { username: `u-${unique()}` });
      const res = await postLogin(t, user.username, user.password, returnTo);
      expect([res.status, res.headers.location]).toEqual([303, '/']);
    });
  });

  describe('§2.1.1 and §4.8: PKCE', () => {
    it('§2.1.1 «Authorization servers MUST support PKCE» — a code bound to an S256 challenge is redeemed with its verifier', async () => {
      const { cookie } = await freshUser();
      const { code, verifier } = await authorizeAndConsent(t, web, cookie);
      expect((await exchange(t, web, code, verifier)).status).toBe(200);
    });

    it.each([
      ['a wrong code_verifier', () => pkce().verifier],
      ['no code_verifier', () => undefined],
    ])('§2.1.1 «If a client sends a valid PKCE code_challenge parameter in the authorization request, the authorization server MUST enforce the correct usage of code_verifier at the token endpoint» — %s: invalid_grant', async (_name, verifierOf) => {
      const { cookie } = await freshUser();
      const { code } = await authorizeAndConsent(t, web, cookie);
      const res = await exchange(t, web, code, verifierOf());
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_grant'));
    });

    it('§2.1.1 «Clients SHOULD use PKCE code challenge methods that do not expose the PKCE verifier in the authorization request … Currently, S256 is the only such method» — the server refuses plain with invalid_request', async () => {
      const { cookie } = await freshUser();
      const res = await getAuthorize(t, authorizeParams(spa, 'a'.repeat(43), { code_challenge_method: 'plain', state: 'plain' }), cookie);
      expectErrorRedirect(res, spa, 'invalid_request', 'plain', t.url);
    });

    it('§4.7.1 «The authorization server therefore MUST provide a way to detect their support for PKCE» — the metadata lists code_challenge_methods_supported ["S256"]', async () => {
      const res = await request(t.url).get('/.well-known/oauth-authorization-server');
      expect(res.body.code_challenge_methods_supported).toEqual(['S256']);
    });

    it('§4.8.2 «Authorization servers that mandate the use of PKCE (in general or for particular clients) implicitly implement this security measure» — with PKCE required (the default), a request without code_challenge is refused', async () => {
      const { cookie } = await freshUser();
      const res = await getAuthorize(t, authorizeParams(web, challenge, { code_challenge: undefined, code_challenge_method: undefined, state: 'no-pkce' }), cookie);
      expectErrorRedirect(res, web, 'invalid_request', 'no-pkce', t.url);
    });
  });

  describe('§2.1.2: the implicit grant', () => {
    it('§2.1.2 «clients SHOULD NOT use the implicit grant (response type "token") or other response types issuing access tokens in the authorization response» — response_type=token is unsupported_response_type', async () => {
      const { cookie } = await freshUser();
      const res = await getAuthorize(t, authorizeParams(web, challenge, { response_type: 'token', state: 'implicit' }), cookie);
      expectErrorRedirect(res, web, 'unsupported_response_type', 'implicit', t.url);
      expect(res.headers.location).not.toMatch(/access_token/);
    });

    it('§2.1.2 «… or other response types issuing access tokens in the authorization response» — the metadata offers response_types_supported ["code"] only', async () => {
      expect((await request(t.url).get('/.well-known/oauth-authorization-server')).body.response_types_supported).toEqual(['code']);
    });
  });

  describe('§2.2.2 and §4.14: refresh tokens', () => {
    it('§2.2.2 «Refresh tokens for public clients MUST be sender-constrained or use refresh token rotation» — a public client gets a new refresh token on every refresh', async () => {
      const { cookie } = await freshUser();
      const first = await issueTokens(t, spa, cookie);
      const second = await rotate(t, spa, first.refresh_token!);
      expect(second.refresh_token).toEqual(expect.any(String));
      expect(second.refresh_token).not.toBe(first.refresh_token);
    });

    it('§4.14.2 «The previous refresh token is invalidated but information about the relationship is retained by the authorization server» — the used token is refused', async () => {
      const { cookie } = await freshUser();
      const first = await issueTokens(t, spa, cookie);
      await rotate(t, spa, first.refresh_token!);
      const res = await refresh(t, spa, first.refresh_token!);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_grant'));
    });

    it('§4.14.2 «The authorization server cannot determine which party submitted the invalid refresh token, but it will revoke the active refresh token» — and the access token issued with it', async () => {
      const { cookie } = await freshUser();
      const first = await issueTokens(t, spa, cookie);
      const second = await rotate(t, spa, first.refresh_token!);
      await refresh(t, spa, first.refresh_token!);
      expect((await refresh(t, spa, second.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
      expect((await userinfo(t, second.access_token)).status).toBe(401);
    });

    it('§4.14.2 «refresh tokens MUST be bound to the scope and resource servers as consented by the resource owner» — a refresh asking for a scope not consented: invalid_scope', async () => {
      const { cookie } = await freshUser();
      const { refresh_token } = await issueTokens(t, web, cookie);
      const res = await refresh(t, web, refresh_token!, { scope: 'openid profile offline_access email' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_scope'));
    });

    it('§4.14.2 «refresh tokens MUST be bound to the scope and resource servers as consented by the resource owner» — a refresh naming another resource server: invalid_target', async () => {
      const { cookie } = await freshUser();
      const { refresh_token } = await issueTokens(t, web, cookie, { resource: 'https://api.one.example' });
      const res = await refresh(t, web, refresh_token!, { resource: 'https://api.two.example' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_target'));
    });

    it('§4.14.2 «Authorization servers MAY revoke refresh tokens automatically in case of a security event, such as: password change» — after a password change the refresh token is invalid_grant', async () => {
      const user = await freshUser();
      const { refresh_token } = await issueTokens(t, web, user.cookie);
      expect((await request(t.url).patch(`/api/v1/users/${user.id}`).set('Cookie', admin).send({ password: `changed-${unique()}-pw` })).status).toBe(200);
      expect((await refresh(t, web, refresh_token!)).body).toEqual(oauthError('invalid_grant'));
    });
  });

  describe('§2.3 and §4.10.2: access token privilege restriction', () => {
    it('§2.3 «access tokens SHOULD be audience-restricted to a specific resource server» — a token asked for resource=https://api.one.example is for that audience only', async () => {
      const { cookie } = await freshUser();
      const { access_token } = await issueTokens(t, web, cookie, { resource: 'https://api.one.example' });
      expect(decodeJwt(access_token).aud).toBe('https://api.one.example');
    });

    it('§4.10.2 «If the access token fails the intended audience validation, the resource server refuses to serve the respective request» — userinfo (audience: the issuer) refuses it: 401 invalid_token', async () => {
      const { cookie } = await freshUser();
      const { access_token } = await issueTokens(t, web, cookie, { resource: 'https://api.one.example' });
      const res = await userinfo(t, access_token);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(oauthError('invalid_token'));
    });

    it('§2.3 «The privileges associated with an access token SHOULD be restricted to the minimum required for the particular application or use case» — the token carries exactly the scopes asked for', async () => {
      const { cookie } = await freshUser();
      const { access_token, scope } = await issueTokens(t, web, cookie, { scope: 'profile' });
      expect(scope).toBe('profile');
      expect(decodeJwt(access_token).scope).toBe('profile');
    });

    it('§2.3 «Additionally, access tokens SHOULD be restricted to certain resources and actions» — userinfo refuses a token without openid: 403 insufficient_scope', async () => {
      const { cookie } = await freshUser();
      const { access_token } = await issueTokens(t, web, cookie, { scope: 'profile' });
      const res = await userinfo(t, access_token);
      expect(res.status).toBe(403);
      expect(res.body).toEqual(oauthError('insufficient_scope'));
      expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="insufficient_scope"/);
    });

    it('§2.3 «Additionally, access tokens SHOULD be restricted to certain resources and actions» — an admin’s token without the admin scope does not reach the admin API: 403', async () => {
      const { access_token } = await issueTokens(t, web, admin, { scope: 'openid profile' });
      const res = await request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${access_token}`);
      expect(res.status).toBe(403);
      expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
    });
  });

  describe('§2.4: the resource owner password credentials grant', () => {
    it('§2.4 «The resource owner password credentials grant [RFC6749] MUST NOT be used» — grant_type=password with the right password: unsupported_grant_type, no token', async () => {
      const res = await tokenRequest(t, web, { grant_type: 'password', username: 'admin', password: TEST_ADMIN_PASSWORD, scope: 'openid' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('unsupported_grant_type'));
    });

    it('§2.4 «… MUST NOT be used» — the metadata offers neither the password nor the implicit grant', async () => {
      const { grant_types_supported } = (await request(t.url).get('/.well-known/oauth-authorization-server')).body;
      expect(grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
      expect(grant_types_supported).toEqual(expect.not.arrayContaining(['password']));
      expect(grant_types_supported).toEqual(expect.not.arrayContaining(['implicit']));
    });
  });

  describe('§2.5: client authentication', () => {
    const RULE = '§2.5 «Authorization servers SHOULD enforce client authentication if it is feasible»';
    const token = () => request(t.url).post('/oauth2/token').type('form');

    it(`${RULE} — a confidential client that sends only its client_id: 401 invalid_client`, async () => {
      const res = await token().send({ ...PROBE, client_id: web.clientId });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(oauthError('invalid_client'));
    });

    it(`${RULE} — a wrong secret: 401 invalid_client with a Basic challenge`, async () => {
      const res = await token().set('Authorization', basic(web.clientId, 'not-the-secret')).send(PROBE);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(oauthError('invalid_client'));
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    });

    it(`${RULE} — a client registered for client_secret_basic that sends client_secret_post: 401 invalid_client`, async () => {
      const res = await token().send({ ...PROBE, client_id: web.clientId, client_secret: web.clientSecret });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(oauthError('invalid_client'));
    });

    it(`${RULE} — a client registered for client_secret_post that sends HTTP Basic: 401 invalid_client`, async () => {
      const res = await token().set('Authorization', basic(postApp.clientId, postApp.clientSecret!)).send(PROBE);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(oauthError('invalid_client'));
    });

    it(`${RULE} — each with the method it registered is authenticated (the control for the cases above)`, async () => {
      const basicRes = await token().set('Authorization', basic(web.clientId, web.clientSecret!)).send(PROBE);
      const postRes = await token().send({ ...PROBE, client_id: postApp.clientId, client_secret: postApp.clientSecret });
      expect([basicRes.body, postRes.body]).toEqual([oauthError('unsupported_grant_type'), oauthError('unsupported_grant_type')]);
    });
  });

  describe('§2.6 and §4.15: other recommendations', () => {
    it('§2.6 «authorization servers MUST NOT allow redirect URIs that use the http scheme except for native clients that use loopback interface redirection» — registering http://app.example.net/cb: invalid_redirect_uri', async () => {
      const res = await request(t.url).post('/oauth2/register').send({ redirect_uris: ['http://app.example.net/cb'] });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_redirect_uri'));
    });

    it('§2.6 «… except for native clients that use loopback interface redirection» — a native app registers http://127.0.0.1:8080/cb (the control)', async () => {
      const res = await request(t.url).post('/oauth2/register').send({ redirect_uris: ['http://127.0.0.1:8080/cb'], application_type: 'native', token_endpoint_auth_method: 'none' });
      expect(res.status).toBe(201);
    });

    it('§2.6 «CORS MUST NOT be supported at the Authorization Endpoint» — neither GET /oauth2/authorize nor its preflight answers Access-Control-Allow-Origin', async () => {
      const { cookie } = await freshUser();
      const get = await getAuthorize(t, authorizeParams(web, challenge), cookie).set('Origin', 'https://spa.example.com');
      const preflight = await request(t.url).options('/oauth2/authorize').set('Origin', 'https://spa.example.com').set('Access-Control-Request-Method', 'POST');
      expect([get.headers['access-control-allow-origin'], preflight.headers['access-control-allow-origin']]).toEqual([undefined, undefined]);
    });

    it('§2.6 «endpoints directly accessed by such clients including the Token Endpoint … MAY support the use of Cross-Origin Resource Sharing» — the token endpoint does (the contrast)', async () => {
      const res = await request(t.url).post('/oauth2/token').set('Origin', 'https://spa.example.com').type('form').send(PROBE);
      expect(res.headers['access-control-allow-origin']).toBe('*');
    });

    it('§4.15.1 «Authorization servers SHOULD NOT allow clients to influence their client_id» — a registration naming its own client_id and secret gets the server’s', async () => {
      const [{ id: adminId }] = (await request(t.url).get('/api/v1/users').set('Cookie', admin)).body.items as { id: string }[];
      const res = await request(t.url).post('/oauth2/register').send({ redirect_uris: ['https://self.example.net/cb'], client_id: adminId, client_secret: 'chosen-by-the-client' });
      expect(res.status).toBe(201);
      expect(res.body.client_id).not.toBe(adminId);
      expect(res.body.client_secret).not.toBe('chosen-by-the-client');
    });

    it('§4.15.1 «… or any other claim that could cause confusion with a genuine resource owner» — a client_credentials token’s sub is the client_id, never a user id', async () => {
      const res = await tokenRequest(t, daemon, { grant_type: 'client_credentials' });
      const claims = decodeJwt(res.body.access_token);
      expect(claims).toMatchObject({ sub: daemon.clientId, client_id: daemon.clientId });
      const users = (await request(t.url).get('/api/v1/users').query({ per_page: 100 }).set('Cookie', admin)).body.items as { id: string }[];
      expect(users.map((u) => u.id)).not.toContain(claims.sub);
    });
  });

  describe('§4.2 and §4.3: leakage through Referer and browser history', () => {
    it('§4.2.4 «The page rendered as a result of the OAuth authorization response and the authorization endpoint SHOULD NOT include third-party resources or links to external sites» — the consent page loads and links nothing from another origin', async () => {
      const { cookie } = await freshUser();
      const page = await getAuthorize(t, authorizeParams(web, challenge), cookie);
      expect(page.status).toBe(200);
      const references = [...page.text.matchAll(/\s(?:src|href|action|srcset)="([^"]*)"/g)].map((m) => m[1]);
      expect(references.length).toBeGreaterThan(0);
      expect(references.filter((ref) => !/^(\/(?!\/)|#)/.test(ref))).toEqual([]);
    });

    it.each([
      ['the consent page', async () => getAuthorize(t, authorizeParams(web, challenge), (await freshUser()).cookie)],
      ['the authorization error page', async () => getAuthorize(t, authorizeParams({ ...web, clientId: 'unknown' }, challenge))],
      ['the login page', async () => request(t.url).get('/login')],
    ])('§4.2.4 «Suppress the Referer header by applying an appropriate Referrer Policy» — %s sends Referrer-Policy: no-referrer', async (_name, load) => {
      expect((await load()).headers['referrer-policy']).toBe('no-referrer');
    });

    it('§4.2.4 «authorization codes MUST be invalidated by the authorization server after their first use at the token endpoint» — a second redemption: invalid_grant', async () => {
      const { cookie } = await freshUser();
      const { code, verifier } = await authorizeAndConsent(t, web, cookie);
      expect((await exchange(t, web, code, verifier)).status).toBe(200);
      expect((await exchange(t, web, code, verifier)).body).toEqual(oauthError('invalid_grant'));
    });

    it('§4.2.4 «when an attempt is made to redeem a code twice, the authorization server SHOULD revoke all tokens issued previously based on that code» — the first redemption’s access and refresh tokens die', async () => {
      const { cookie } = await freshUser();
      const { code, verifier } = await authorizeAndConsent(t, web, cookie, WITH_REFRESH);
      const first = (await exchange(t, web, code, verifier)).body;
      await exchange(t, web, code, verifier);
      expect(await isActive(first.access_token)).toEqual(INACTIVE);
      expect((await refresh(t, web, first.refresh_token)).body).toEqual(oauthError('invalid_grant'));
    });

    it('§4.3.2 «Clients MUST NOT pass access tokens in a URI query parameter» — and the server takes none from one: userinfo?access_token= is 401', async () => {
      const { cookie } = await freshUser();
      const { access_token } = await issueTokens(t, web, cookie);
      const res = await request(t.url).get(`/oauth2/userinfo?access_token=${access_token}`);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    });
  });

  describe('§4.4: mix-up attacks', () => {
    const RULE = '§4.4.2.1 «This defense requires that the authorization server sends its issuer identifier in the authorization response to the client»';

    it(`${RULE} — the code redirect carries iss, equal to the metadata’s issuer`, async () => {
      const { cookie } = await freshUser();
      const { issuer } = (await request(t.url).get('/.well-known/oauth-authorization-server')).body;
      const page = await getAuthorize(t, authorizeParams(web, challenge, { state: 'iss' }), cookie);
      const res = await postDecision(t, cookie, consentForm(page.text), { decision: 'allow' });
      expect(locationParams(res).params).toEqual({ code: expect.any(String), state: 'iss', iss: issuer });
    });

    it(`${RULE} — an error redirect carries it too`, async () => {
      const { cookie } = await freshUser();
      expectErrorRedirect(await getAuthorize(t, authorizeParams(web, challenge, { scope: 'nonsense', state: 'iss-err' }), cookie), web, 'invalid_scope', 'iss-err', t.url);
    });

    it(`${RULE} — the metadata says so: authorization_response_iss_parameter_supported is true (RFC 9207 §3)`, async () => {
      expect((await request(t.url).get('/.well-known/oauth-authorization-server')).body.authorization_response_iss_parameter_supported).toBe(true);
    });
  });

  describe('§4.5: authorization code injection', () => {
    const RULE = '§4.5.1 «The authorization server checks the client secret, whether the code was issued to the particular client, and whether the actual redirection URI matches the redirect_uri parameter»';

    it(`${RULE} — a code redeemed by another client: invalid_grant`, async () => {
      const { cookie } = await freshUser();
      const { code, verifier } = await authorizeAndConsent(t, web, cookie);
      const res = await tokenRequest(t, other, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: web.redirectUri });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_grant'));
    });

    it(`${RULE} — a code redeemed with another of the client’s registered redirect URIs: invalid_grant`, async () => {
      const { cookie } = await freshUser();
      const { code, verifier } = await authorizeAndConsent(t, web, cookie);
      const res = await exchange(t, web, code, verifier, { redirect_uri: 'https://web.example.com/other' });
      expect(res.body).toEqual(oauthError('invalid_grant'));
    });

    it('§4.5.3.1 «the check of the code_verifier fails: the client uses its correct verifier, but the code is associated with a code_challenge that does not match this verifier» — an injected code: invalid_grant', async () => {
      const victim = await freshUser();
      const attacker = await freshUser();
      // The attacker's own code, pasted into the victim's session with the client, which holds its own verifier.
      const { code: injected } = await authorizeAndConsent(t, web, attacker.cookie);
      const { verifier: victimsVerifier } = await authorizeAndConsent(t, web, victim.cookie);
      const res = await exchange(t, web, injected, victimsVerifier);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_grant'));
    });

    it('§4.5.3.1 «PKCE ensures that an attacker cannot redeem a stolen authorization code at the token endpoint of the authorization server without knowledge of the code_verifier» — a public client’s stolen code: invalid_grant', async () => {
      const { cookie } = await freshUser();
      const { code } = await authorizeAndConsent(t, spa, cookie);
      const res = await exchange(t, spa, code, undefined);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_grant'));
    });

    it('§4.5.3.2 «The OP puts the received nonce value into the ID Token that is issued as part of the code exchange at the token endpoint» — the ID token carries the nonce', async () => {
      const { cookie } = await freshUser();
      const { id_token } = await issueTokens(t, web, cookie, { scope: 'openid', nonce: 'n-0S6_WzA2Mj' });
      expect(decodeJwt(id_token!).nonce).toBe('n-0S6_WzA2Mj');
    });
  });

  describe('§4.7: cross-site request forgery', () => {
    it('§4.7.1 «clients pass a random value, also known as a CSRF Token, in the state parameter that links the request to the redirection URI to the user agent session» — the server returns state exactly as sent', async () => {
      const { cookie } = await freshUser();
      const state = `csrf-${randomBytes(16).toString('base64url')}+/= ü`;
      expect((await authorizeAndConsent(t, web, cookie, { state })).state).toBe(state);
    });

    it('RFC 6749 §10.12 «The authorization server MUST implement CSRF protection for its authorization endpoint» (which RFC 9700 keeps) — a consent decision without the session’s CSRF token: 403, no code', async () => {
      const { cookie } = await freshUser();
      const page = await getAuthorize(t, authorizeParams(web, challenge), cookie);
      const { csrf_token: _dropped, ...fields } = consentForm(page.text);
      expectErrorPage(await postDecision(t, cookie, fields, { decision: 'allow' }), 403);
    });
  });

  describe('§4.11.2: the authorization server as open redirector', () => {
    const RULE = '§4.11.2 «The authorization server SHOULD only automatically redirect the user agent if it trusts the redirection URI»';
    const ERRORS: [string, Params][] = [
      ['an unsupported response_type', { response_type: 'token' }],
      ['an unknown scope', { scope: 'openid launch-missiles' }],
      ['no PKCE', { code_challenge: undefined, code_challenge_method: undefined }],
      ['code_challenge_method=plain', { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }],
    ];
    let dcr: RegisteredApp;
    beforeAll(async () => {
      dcr = await registerApp(t, { client_name: 'Unvetted', redirect_uris: ['https://phish.example.net/cb'] });
    });

    it.each(ERRORS)(`${RULE} — a self-registered app the user has not approved: %s gets the 400 page naming its redirect host`, async (_name, params) => {
      const { cookie } = await freshUser();
      const res = await getAuthorize(t, authorizeParams(dcr, challenge, { state: 's', ...params }), cookie);
      expectErrorPage(res);
      expect(res.text).toContain('phish.example.net');
    });

    it.each(ERRORS)(`${RULE} — without a session too: %s gets the 400 page, not a redirect to sign in`, async (_name, params) => {
      const res = await getAuthorize(t, authorizeParams(dcr, challenge, { state: 's', ...params }));
      expectErrorPage(res);
      expect(res.text).toContain('phish.example.net');
    });

    it.each(ERRORS)(`${RULE} — an app an admin registered is trusted: %s still redirects with error, state and iss`, async (_name, params) => {
      const { cookie } = await freshUser();
      const res = await getAuthorize(t, authorizeParams(web, challenge, { state: 'vouched', ...params }), cookie);
      expect(res.status).toBe(303);
      expect(locationParams(res)).toEqual({ base: web.redirectUri, params: { error: expect.any(String), error_description: expect.any(String), state: 'vouched', iss: t.url } });
    });

    it(`${RULE} — once the user approved the self-registered app, its errors redirect`, async () => {
      const approved = await registerApp(t, { client_name: 'Approved', redirect_uris: ['https://approved.example.net/cb'] });
      const { cookie } = await freshUser();
      await authorizeAndConsent(t, approved, cookie);
      const res = await getAuthorize(t, authorizeParams(approved, challenge, { scope: 'openid launch-missiles', state: 'after' }), cookie);
      expectErrorRedirect(res, approved, 'invalid_scope', 'after', t.url);
    });

    it('§4.11.2 «If the URI is not trusted, the authorization server MAY inform the user and rely on the user to make the correct decision» — the consent page marks the self-registered app and names its redirect host', async () => {
      const { cookie } = await freshUser();
      const res = await getAuthorize(t, authorizeParams(dcr, challenge), cookie);
      expect(res.status).toBe(200);
      expect(res.text).toContain('Not reviewed by your organisation');
      expect(res.text).toContain('You will be sent to <bdi class="redirect-host">phish.example.net</bdi>');
    });

    /**
     * SPEC §3 lists only the step-2 errors for the page; RFC 9700 §4.11.2 names the silent request as the third
     * attack and says the server "MUST take precautions to prevent these threats".
     */
    it.each([
      ['login_required (no session)', false],
      ['consent_required (signed in)', true],
    ])('§4.11.2 «Intentionally send a valid silent authentication request (prompt=none) … the authorization server will automatically redirect the user agent to the phishing site» — for an unapproved self-registered app, %s is shown, not redirected', async (_name, signedIn) => {
      const cookie = signedIn ? (await freshUser()).cookie : undefined;
      const res = await getAuthorize(t, authorizeParams(dcr, challenge, { prompt: 'none', state: 'silent' }), cookie);
      expectErrorPage(res);
    });
  });

  describe('§4.12: 307 redirect', () => {
    const RULE = "§4.12 «Authorization servers that redirect a request that potentially contains the user's credentials therefore MUST NOT use the HTTP 307 status code for redirection … SHOULD use HTTP status code 303 (See Other)»";

    it(`${RULE} — the sign-in POST, holding the password, answers 303 back to the authorization request`, async () => {
      const user = await createUser(t, admin, { username: `u-${unique()}` });
      const returnTo = `/oauth2/authorize?client_id=${web.clientId}&response_type=code`;
      const res = await postLogin(t, user.username, user.password, returnTo);
      expect([res.status, res.headers.location]).toEqual([303, returnTo]);
    });

    it(`${RULE} — the consent POST answers 303 to the client`, async () => {
      const { cookie } = await freshUser();
      const page = await getAuthorize(t, authorizeParams(web, challenge), cookie);
      const res = await postDecision(t, cookie, consentForm(page.text), { decision: 'allow' });
      expect(res.status).toBe(303);
    });
  });

  describe('§4.13: TLS terminating reverse proxies', () => {
    it('§4.13 «A reverse proxy MUST therefore sanitize any inbound requests to ensure the authenticity and integrity of all header values relevant for the security of the application servers» — trusting no proxy (the default), the server ignores X-Forwarded-For: a spoofed address does not escape the sign-in limit', async () => {
      const victim = await createUser(t, admin, { username: `u-${unique()}` });
      const attempt = async (password: string, i: number) => {
        const form = await loginForm(t);
        return request(t.url).post('/login').set('Cookie', form.cookie).set('X-Forwarded-For', `203.0.113.${i}`).type('form')
          .send({ username: victim.username, password, csrf_token: form.csrfToken });
      };
      for (let i = 0; i < 10; i++) expect((await attempt('wrong', i)).status).toBe(401);
      expect((await attempt(victim.password, 99)).status).toBe(429);
    });
  });

  describe('§4.16: clickjacking', () => {
    it.each([
      ['the consent page (authorization endpoint)', async () => getAuthorize(t, authorizeParams(web, challenge), (await freshUser()).cookie)],
      ['the authorization error page', async () => getAuthorize(t, authorizeParams({ ...web, clientId: 'unknown' }, challenge))],
      ['the login page', async () => request(t.url).get('/login')],
      ['the page of a refused consent decision', async () => {
        const { cookie } = await freshUser();
        const page = await getAuthorize(t, authorizeParams(web, challenge), cookie);
        const { csrf_token: _dropped, ...fields } = consentForm(page.text);
        return postDecision(t, cookie, fields, { decision: 'allow' });
      }],
    ])('§4.16 «Authorization servers MUST prevent clickjacking attacks … To be effective, CSP must be used on the authorization endpoint and, if applicable, other endpoints used to authenticate the user and authorize the client (e.g., … login pages, error pages, etc.)» — %s: frame-ancestors \'none\' and X-Frame-Options: DENY', async (_name, load) => {
      const res = await load();
      expect(res.headers['content-security-policy']).toMatch(/(^|;)\s*frame-ancestors 'none'\s*(;|$)/);
      expect(res.headers['x-frame-options']).toBe('DENY');
    });
  });
});

/**
 * A separate top-level block, booted after the main app has closed: passport keeps one process-wide registry of
 * strategies, so a second app booted in this process would take over the first one's bearer checks on /api.
 */
describe('RFC 9700 §4.8.2 with PKCE optional for confidential clients (OAUTH2_REQUIRE_PKCE=false)', () => {
  let lax: TestApp;
  let laxApp: RegisteredApp;
  let laxUser: string;
  const withoutPkce: Params = { code_challenge: undefined, code_challenge_method: undefined };
  /** A code issued for a request without code_challenge. */
  async function codeWithoutChallenge(): Promise<string> {
    const page = await getAuthorize(lax, authorizeParams(laxApp, '', withoutPkce), laxUser);
    const res = page.status === 200 ? await postDecision(lax, laxUser, consentForm(page.text), { decision: 'allow' }) : page;
    const { code } = locationParams(res).params;
    if (!code) throw new Error(`no code: ${res.status} ${res.headers.location}`);
    return code;
  }

  beforeAll(async () => {
    lax = await bootApp({ env: { OAUTH2_REQUIRE_PKCE: 'false' } });
    const laxAdmin = await signIn(lax);
    laxApp = await createApp(lax, laxAdmin, { name: 'confidential' });
    laxUser = await signIn(lax, (await createUser(lax, laxAdmin, { username: 'lax-user' })).username, 'pw-lax-user-12345');
  }, 60_000);
  afterAll(() => lax?.close());

  it('§4.8.2 «the authorization server MUST ensure that if there was no code_challenge in the authorization request, a request to the token endpoint containing a code_verifier is rejected» — invalid_grant', async () => {
    const res = await exchange(lax, laxApp, await codeWithoutChallenge(), pkce().verifier);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(oauthError('invalid_grant'));
  });

  it('§4.8.2 «… a request to the token endpoint containing a code_verifier is rejected» — the same flow without a code_verifier is accepted (the control)', async () => {
    expect((await exchange(lax, laxApp, await codeWithoutChallenge(), undefined)).status).toBe(200);
  });
});
