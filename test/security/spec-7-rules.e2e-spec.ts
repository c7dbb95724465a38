import { decodeJwt } from 'jose';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import request from 'supertest';
import * as ts from 'typescript';
import { CryptoService } from '../../src/common/crypto/crypto.service';
import { bootApp, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { cookiesOf, createUser, loginForm, postLogin, signIn } from '../helpers/identity';
import { authorizeAndConsent, authorizeParams, consentForm, getAuthorize, locationParams, pkce, postDecision, query } from '../helpers/oauth';
import {
  exchange,
  expectErrorPage,
  expectErrorRedirect,
  expectProblemBody,
  grantIdOf,
  introspect,
  issueTokens,
  logsDuring,
  myAuthorizations,
  oauthError,
  pollUntil,
  principalToken,
  refresh,
  registerApp,
  revoke,
  rotate,
  sessionCsrf,
  tokenRequest,
  userinfo,
  WITH_REFRESH,
} from '../helpers/protocol';

/**
 * SPEC §7, "Rules that each have a test": one describe per rule, the rule quoted in every test name, so that a
 * reader can check the list of rules against the list of tests. Everything runs over real HTTP against the real
 * application and PostgreSQL. Each test makes its own user (their grants, sessions and tokens are what the tests
 * change); the apps registered in `beforeAll` are only read.
 */

const INACTIVE = { active: false };
const BOOT_ENV = { OAUTH2_DCR_ENABLED: 'true', OAUTH2_DCR_RATE_LIMIT: '0', LOG_LEVEL: 'trace' };
const unique = () => randomBytes(4).toString('hex');

describe('SPEC §7: rules that each have a test', () => {
  let t: TestApp;
  let admin: string;
  /** Confidential, code + refresh tokens, every unprivileged scope. */
  let web: RegisteredApp;
  /** Public (token_endpoint_auth_method none), code + refresh tokens. */
  let spa: RegisteredApp;
  /** Confidential, may be granted `account` and `admin`: the kind of app whose tokens reach the API. */
  let consoleApp: RegisteredApp;
  /** A resource server: a confidential client that only introspects access tokens. */
  let resourceServer: RegisteredApp;
  const { challenge } = pkce();

  /** A new user, signed in: nothing they hold is shared with another test. */
  async function freshUser(role: 'user' | 'admin' = 'user'): Promise<{ id: string; username: string; password: string; cookie: string }> {
    const user = await createUser(t, admin, { username: `u-${unique()}`, role });
    return { ...user, cookie: await signIn(t, user.username, user.password) };
  }

  const isActive = async (token: string) => (await introspect(t, resourceServer, token)).body;

  beforeAll(async () => {
    t = await bootApp({ env: BOOT_ENV });
    admin = await signIn(t);
    web = await createApp(t, admin, { name: 'web', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://web.example.com/cb'] });
    spa = await createApp(t, admin, { name: 'spa', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://spa.example.com/cb'] });
    consoleApp = await createApp(t, admin, {
      name: 'console', scope: 'openid profile offline_access account admin', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://console.example.com/cb'],
    });
    resourceServer = await createApp(t, admin, { name: 'resource-server', grant_types: ['client_credentials'], redirect_uris: [] });
  }, 60_000);
  afterAll(() => t?.close());

  describe('«Exact redirect-URI matching»', () => {
    it.each([
      ['a trailing slash', 'https://web.example.com/cb/'],
      ['another case in the host', 'https://WEB.example.com/cb'],
      ['another case in the path', 'https://web.example.com/CB'],
      ['the default port spelled out', 'https://web.example.com:443/cb'],
      ['an added query', 'https://web.example.com/cb?next=1'],
      ['an added fragment', 'https://web.example.com/cb#x'],
      ['a percent-encoded letter', 'https://web.example.com/%63b'],
      ['http instead of https', 'http://web.example.com/cb'],
      ['a longer host', 'https://web.example.com.evil.example/cb'],
    ])('«Exact redirect-URI matching» — %s (%s) is not the registered URI: the 400 page, no redirect', async (_name, redirectUri) => {
      const { cookie } = await freshUser();
      const res = await getAuthorize(t, authorizeParams(web, challenge, { redirect_uri: redirectUri }), cookie);
      expectErrorPage(res);
      expect(res.text).toContain('redirect_uri is not registered');
    });

    it('«Exact redirect-URI matching» — the registered URI itself is accepted (the control for the cases above)', async () => {
      const { cookie } = await freshUser();
      expect((await getAuthorize(t, authorizeParams(web, challenge), cookie)).status).toBe(200);
    });

    it('«Exact redirect-URI matching» — a code is redeemed only with the redirect_uri of its own request, not another registered one', async () => {
      const two = await createApp(t, admin, { name: 'two-uris', redirect_uris: ['https://two.example.com/a', 'https://two.example.com/b'] });
      const { cookie } = await freshUser();
      const { code, verifier } = await authorizeAndConsent(t, two, cookie);
      const res = await exchange(t, two, code, verifier, { redirect_uri: 'https://two.example.com/b' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_grant'));
    });
  });

  describe('«no open redirect from `/oauth2/authorize` or `/login`»', () => {
    it('«no open redirect from `/oauth2/authorize`» — an unknown client_id with an attacker’s redirect_uri gets the 400 page', async () => {
      const res = await getAuthorize(t, authorizeParams({ ...web, clientId: 'no-such-client', redirectUri: 'https://evil.example/steal' }, challenge));
      expectErrorPage(res);
      expect(res.text).not.toContain('evil.example');
    });

    it('«no open redirect from `/oauth2/authorize`» — a known client with an unregistered redirect_uri gets the 400 page, even with prompt=none', async () => {
      const { cookie } = await freshUser();
      const res = await getAuthorize(t, authorizeParams(web, challenge, { redirect_uri: 'https://evil.example/steal', prompt: 'none' }), cookie);
      expectErrorPage(res);
    });

    it('«no open redirect from `/oauth2/authorize`» — a self-registered app the user has not approved gets its request errors on the page, which names its redirect host', async () => {
      const dcr = await registerApp(t, { redirect_uris: ['https://phish.example.net/cb'] });
      const { cookie } = await freshUser();
      const res = await getAuthorize(t, authorizeParams(dcr, challenge, { scope: 'openid launch-missiles' }), cookie);
      expectErrorPage(res);
      expect(res.text).toContain('phish.example.net');
    });

    it.each([
      '//evil.example',
      'https://evil.example',
      '/\\evil.example',
      '/%2F%2Fevil.example',
      '/\t/evil.example',
      '/.//evil.example',
      'javascript:alert(1)',
    ])('«no open redirect from `/login`» — POST /login with return_to=%j lands on this origin (Location: /)', async (returnTo) => {
      const user = await createUser(t, admin, { username: `u-${unique()}` });
      const res = await postLogin(t, user.username, user.password, returnTo);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/');
    });

    it('«no open redirect from `/login`» — GET /login puts a hostile return_to into its form as "/"', async () => {
      const { html } = await loginForm(t, 'https://evil.example/phish');
      expect(html).toContain('name="return_to" value="/"');
      expect(html).not.toContain('evil.example');
    });

    it('«no open redirect from `/login`» — a same-origin return_to is kept (the control for the cases above)', async () => {
      const user = await createUser(t, admin, { username: `u-${unique()}` });
      const res = await postLogin(t, user.username, user.password, '/account/apps?tab=1');
      expect(res.headers.location).toBe('/account/apps?tab=1');
    });
  });

  describe('«PKCE S256 only, no downgrade»', () => {
    it('«PKCE S256 only» — the metadata offers code_challenge_methods_supported ["S256"] and nothing else', async () => {
      const res = await request(t.url).get('/.well-known/oauth-authorization-server');
      expect(res.body.code_challenge_methods_supported).toEqual(['S256']);
    });

    it('«PKCE S256 only» — code_challenge_method=plain is refused with invalid_request, state and iss', async () => {
      const { cookie } = await freshUser();
      const res = await getAuthorize(t, authorizeParams(web, 'a'.repeat(43), { code_challenge_method: 'plain', state: 'pkce-plain' }), cookie);
      expectErrorRedirect(res, web, 'invalid_request', 'pkce-plain', t.url);
    });

    it('«no downgrade» — a code_challenge without a method (which RFC 7636 reads as plain) is refused with invalid_request', async () => {
      const { cookie } = await freshUser();
      const res = await getAuthorize(t, authorizeParams(web, challenge, { code_challenge_method: undefined, state: 'pkce-nomethod' }), cookie);
      expectErrorRedirect(res, web, 'invalid_request', 'pkce-nomethod', t.url);
    });

    it('«no downgrade» — a request without PKCE is refused with invalid_request (PKCE is required for every client by default)', async () => {
      const { cookie } = await freshUser();
      const res = await getAuthorize(t, authorizeParams(spa, challenge, { code_challenge: undefined, code_challenge_method: undefined, state: 'pkce-none' }), cookie);
      expectErrorRedirect(res, spa, 'invalid_request', 'pkce-none', t.url);
    });

    it('«no downgrade» — a code bound to a challenge is not redeemed without its code_verifier', async () => {
      const { cookie } = await freshUser();
      const { code } = await authorizeAndConsent(t, web, cookie);
      const res = await exchange(t, web, code, undefined);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_grant'));
    });

    it('«PKCE S256» — a verifier whose SHA-256 is not the challenge is refused with invalid_grant', async () => {
      const { cookie } = await freshUser();
      const { code } = await authorizeAndConsent(t, web, cookie);
      const res = await exchange(t, web, code, pkce().verifier);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_grant'));
    });
  });

  describe('«code single use with revocation on replay, also under concurrent redemption (exactly one of N parallel redemptions succeeds)»', () => {
    it('«code single use» — a second redemption of a code is refused with invalid_grant', async () => {
      const { cookie } = await freshUser();
      const { code, verifier } = await authorizeAndConsent(t, web, cookie);
      expect((await exchange(t, web, code, verifier)).status).toBe(200);
      const replay = await exchange(t, web, code, verifier);
      expect(replay.status).toBe(400);
      expect(replay.body).toEqual(oauthError('invalid_grant'));
    });

    it('«with revocation on replay» — the replay kills the access token and the refresh token of the first redemption', async () => {
      const { cookie } = await freshUser();
      const { code, verifier } = await authorizeAndConsent(t, web, cookie, WITH_REFRESH);
      const first = (await exchange(t, web, code, verifier)).body;
      expect(await isActive(first.access_token)).toMatchObject({ active: true });
      await exchange(t, web, code, verifier);
      expect(await isActive(first.access_token)).toEqual(INACTIVE);
      expect((await refresh(t, web, first.refresh_token)).body).toEqual(oauthError('invalid_grant'));
    });

    it('«exactly one of N parallel redemptions succeeds» — of 10 simultaneous redemptions one gets tokens, nine get invalid_grant', async () => {
      const { cookie } = await freshUser();
      const { code, verifier } = await authorizeAndConsent(t, web, cookie);
      const responses = await Promise.all(Array.from({ length: 10 }, () => exchange(t, web, code, verifier)));
      expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
      expect(responses.filter((r) => r.status !== 200).map((r) => [r.status, r.body])).toEqual(Array(9).fill([400, oauthError('invalid_grant')]));
    });

    it('«also under concurrent redemption» — after the race, a further replay still revokes what the winner got', async () => {
      const { cookie } = await freshUser();
      const { code, verifier } = await authorizeAndConsent(t, web, cookie, WITH_REFRESH);
      const responses = await Promise.all(Array.from({ length: 10 }, () => exchange(t, web, code, verifier)));
      const winner = responses.find((r) => r.status === 200)!.body;
      await exchange(t, web, code, verifier);
      expect(await isActive(winner.access_token)).toEqual(INACTIVE);
      expect((await refresh(t, web, winner.refresh_token)).body).toEqual(oauthError('invalid_grant'));
    });
  });

  describe('«refresh rotation and family revocation on reuse, also under concurrency»', () => {
    it('«refresh rotation» — every refresh answers a new refresh token, and the used one is refused afterwards', async () => {
      const { cookie } = await freshUser();
      const first = await issueTokens(t, web, cookie);
      const second = await rotate(t, web, first.refresh_token!);
      expect(second.refresh_token).toEqual(expect.any(String));
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect((await refresh(t, web, first.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
    });

    it('«family revocation on reuse» — presenting a rotated token kills the live refresh token and its access token', async () => {
      const { cookie } = await freshUser();
      const first = await issueTokens(t, web, cookie);
      const second = await rotate(t, web, first.refresh_token!);
      await refresh(t, web, first.refresh_token!);
      expect((await refresh(t, web, second.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
      expect(await isActive(second.access_token)).toEqual(INACTIVE);
    });

    it('«also under concurrency» — of 10 simultaneous refreshes with one token at most one succeeds; the others get invalid_grant', async () => {
      const { cookie } = await freshUser();
      const { refresh_token } = await issueTokens(t, web, cookie);
      const responses = await Promise.all(Array.from({ length: 10 }, () => refresh(t, web, refresh_token!)));
      const losers = responses.filter((r) => r.status !== 200);
      expect(losers.length).toBeGreaterThanOrEqual(9);
      expect(losers.map((r) => [r.status, r.body])).toEqual(losers.map(() => [400, oauthError('invalid_grant')]));
    });

    it('«also under concurrency» — after the race, presenting the original token again leaves no token of the family alive', async () => {
      const { cookie } = await freshUser();
      const { refresh_token } = await issueTokens(t, web, cookie);
      const responses = await Promise.all(Array.from({ length: 10 }, () => refresh(t, web, refresh_token!)));
      const minted = responses.filter((r) => r.status === 200).map((r) => r.body as { access_token: string; refresh_token: string });
      await refresh(t, web, refresh_token!);
      for (const tokens of minted) {
        expect((await refresh(t, web, tokens.refresh_token)).body).toEqual(oauthError('invalid_grant'));
        expect(await isActive(tokens.access_token)).toEqual(INACTIVE);
      }
    });
  });

  describe('«`state` and `iss` on every authorization response»', () => {
    type Scenario = (state: string) => Promise<request.Response>;
    const scenarios: [string, Scenario][] = [
      ['the code after Allow', async (state) => {
        const { cookie } = await freshUser();
        const page = await getAuthorize(t, authorizeParams(web, challenge, { state }), cookie);
        return postDecision(t, cookie, consentForm(page.text), { decision: 'allow' });
      }],
      ['the code from remembered consent', async (state) => {
        const { cookie } = await freshUser();
        await authorizeAndConsent(t, web, cookie);
        return getAuthorize(t, authorizeParams(web, challenge, { state }), cookie);
      }],
      ['access_denied after Deny', async (state) => {
        const { cookie } = await freshUser();
        const page = await getAuthorize(t, authorizeParams(web, challenge, { state }), cookie);
        return postDecision(t, cookie, consentForm(page.text), { decision: 'deny' });
      }],
      ['an error redirect (invalid_scope)', async (state) => {
        const { cookie } = await freshUser();
        return getAuthorize(t, authorizeParams(web, challenge, { state, scope: 'openid launch-missiles' }), cookie);
      }],
      ['login_required (prompt=none without a session)', async (state) => getAuthorize(t, authorizeParams(web, challenge, { state, prompt: 'none' }))],
      ['consent_required (prompt=none before consent)', async (state) => {
        const { cookie } = await freshUser();
        return getAuthorize(t, authorizeParams(web, challenge, { state, prompt: 'none' }), cookie);
      }],
    ];

    it.each(scenarios)('«`state` and `iss` on every authorization response» — %s carries both', async (_name, run) => {
      const state = `st-${unique()}`;
      const res = await run(state);
      expect(res.status).toBe(303);
      const { base, params } = locationParams(res);
      expect(base).toBe(web.redirectUri);
      expect(params).toMatchObject({ state, iss: t.url });
    });

    it('«`state` … on every authorization response» — the state comes back exactly as sent, whatever its characters', async () => {
      const { cookie } = await freshUser();
      const state = 'a b+c/d%20é&x=y?z#w';
      const { state: answered } = await authorizeAndConsent(t, web, cookie, { state });
      expect(answered).toBe(state);
    });

    it('«`state` and `iss` on every authorization response» — the JSON authorize answer’s redirect_uri carries both', async () => {
      const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Cookie', admin)
        .send({ client_id: web.clientId, redirect_uri: web.redirectUri, response_type: 'code', scope: ['openid'], state: 'json-st', code_challenge: challenge, code_challenge_method: 'S256' });
      expect(res.status).toBe(200);
      expect(Object.fromEntries(new URL(res.body.redirect_uri).searchParams)).toEqual({ code: expect.any(String), state: 'json-st', iss: t.url });
    });
  });

  describe('«303 after a form POST»', () => {
    it('«303 after a form POST» — POST /login (signed in) answers 303 See Other', async () => {
      const res = await postLogin(t, 'admin', TEST_ADMIN_PASSWORD, '/account/apps');
      expect([res.status, res.headers.location]).toEqual([303, '/account/apps']);
    });

    it.each(['allow', 'deny'])('«303 after a form POST» — POST /oauth2/authorize decision=%s answers 303 See Other', async (decision) => {
      const { cookie } = await freshUser();
      const page = await getAuthorize(t, authorizeParams(web, challenge), cookie);
      const res = await postDecision(t, cookie, consentForm(page.text), { decision });
      expect(res.status).toBe(303);
      expect(locationParams(res).base).toBe(web.redirectUri);
    });

    it('«303 after a form POST» — POST /logout answers 303 See Other to the sign-in page', async () => {
      const { cookie } = await freshUser();
      const res = await request(t.url).post('/logout').set('Cookie', cookie).type('form').send({ csrf_token: await sessionCsrf(t, cookie) });
      expect([res.status, res.headers.location]).toEqual([303, '/login']);
    });

    it('«303 after a form POST» — POST /account/apps/:id/revoke answers 303 See Other', async () => {
      const { cookie } = await freshUser();
      await authorizeAndConsent(t, web, cookie);
      const grantId = await grantIdOf(t, cookie, web);
      const res = await request(t.url).post(`/account/apps/${grantId}/revoke`).set('Cookie', cookie).type('form').send({ csrf_token: await sessionCsrf(t, cookie) });
      expect([res.status, res.headers.location]).toEqual([303, `/account/apps?revoked=${web.clientId}`]);
    });
  });

  describe('«CSRF token on the consent form»', () => {
    const codeRows = async (userId: string) => (await sql<{ n: number }>(t, 'SELECT count(*)::int AS n FROM authorization_codes WHERE user_id = $1', [userId]))[0].n;

    it('«CSRF token on the consent form» — the form carries a hidden csrf_token, different for another session', async () => {
      const one = await freshUser();
      const two = await freshUser();
      const tokenOf = async (cookie: string) => consentForm((await getAuthorize(t, authorizeParams(web, challenge), cookie)).text).csrf_token;
      const [a, b] = [await tokenOf(one.cookie), await tokenOf(two.cookie)];
      expect(a).toEqual([expect.stringMatching(/^\S{20,}$/)]);
      expect(b).toEqual([expect.stringMatching(/^\S{20,}$/)]);
      expect(a).not.toEqual(b);
    });

    it('«CSRF token on the consent form» — a decision without it gets the 403 page and no code', async () => {
      const user = await freshUser();
      const page = await getAuthorize(t, authorizeParams(web, challenge), user.cookie);
      const { csrf_token: _dropped, ...fields } = consentForm(page.text);
      const res = await postDecision(t, user.cookie, fields, { decision: 'allow' });
      expectErrorPage(res, 403);
      expect(await codeRows(user.id)).toBe(0);
    });

    it("«CSRF token on the consent form» — a decision with another session's token gets the 403 page and no code", async () => {
      const user = await freshUser();
      const other = await freshUser();
      const theirs = consentForm((await getAuthorize(t, authorizeParams(web, challenge), other.cookie)).text).csrf_token;
      const page = await getAuthorize(t, authorizeParams(web, challenge), user.cookie);
      const res = await postDecision(t, user.cookie, { ...consentForm(page.text), csrf_token: theirs }, { decision: 'allow' });
      expectErrorPage(res, 403);
      expect(await codeRows(user.id)).toBe(0);
    });
  });

  describe("«consent and login pages not framable (`frame-ancestors 'none'`)»", () => {
    const pages: [string, () => Promise<request.Response>][] = [
      ['the login page', () => request(t.url).get('/login')],
      ['the page of a failed sign-in', () => postLogin(t, `nobody-${unique()}`, 'not-the-password-at-all')],
      ['the consent page', async () => getAuthorize(t, authorizeParams(web, challenge), (await freshUser()).cookie)],
      ['the authorization error page', () => getAuthorize(t, authorizeParams({ ...web, clientId: 'nope' }, challenge))],
      ['the connected-apps page', async () => request(t.url).get('/account/apps').set('Cookie', (await freshUser()).cookie)],
      ['the home page', async () => request(t.url).get('/').set('Cookie', (await freshUser()).cookie)],
    ];

    it.each(pages)("«consent and login pages not framable (`frame-ancestors 'none'`)» — %s forbids every frame ancestor", async (_name, load) => {
      const res = await load();
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['content-security-policy']).toMatch(/(^|;)\s*frame-ancestors 'none'\s*(;|$)/);
      expect(res.headers['x-frame-options']).toBe('DENY');
    });
  });

  describe('«constant-time secret comparison»', () => {
    const crypto = new CryptoService();

    it.each([
      ['equal strings', 'abc', 'abc', true],
      ['one character off', 'abc', 'abd', false],
      ['a prefix', 'abc', 'abcd', false],
      ['empty against non-empty', '', 'x', false],
      ['empty against empty', '', '', true],
      ['the same letters in another case', 'Token', 'token', false],
      ['non-ASCII', 'é', 'e', false],
    ])('«constant-time secret comparison» — safeEqual on %s answers the plain equality', (_name, a, b, expected) => {
      expect(crypto.safeEqual(a, b)).toBe(expected);
    });

    it('«constant-time secret comparison» — safeEqual compares with crypto.timingSafeEqual, on equal-length digests whatever the inputs’ lengths', () => {
      const timingSafeEqual = jest.spyOn(require('node:crypto'), 'timingSafeEqual');
      try {
        crypto.safeEqual('short', 'a much longer presented value');
        expect(timingSafeEqual).toHaveBeenCalledTimes(1);
        const [left, right] = timingSafeEqual.mock.calls[0] as [Buffer, Buffer];
        expect([left.length, right.length]).toEqual([32, 32]);
      } finally {
        timingSafeEqual.mockRestore();
      }
    });

    it('«constant-time secret comparison» — the sign-in form’s CSRF token, the consent form’s CSRF token and the PKCE verifier are compared through safeEqual', async () => {
      const safeEqual = jest.spyOn(t.app.get(CryptoService), 'safeEqual');
      try {
        const user = await createUser(t, admin, { username: `u-${unique()}` });
        const form = await loginForm(t);
        const login = await request(t.url).post('/login').set('Cookie', form.cookie).type('form')
          .send({ username: user.username, password: user.password, csrf_token: form.csrfToken, return_to: '/' });
        const cookie = `session_id=${cookiesOf(login).session_id.value}`;
        expect(safeEqual).toHaveBeenCalledWith(form.csrfToken, form.csrfToken);

        const { verifier, challenge: mine } = pkce();
        const page = await getAuthorize(t, authorizeParams(web, mine), cookie);
        const fields = consentForm(page.text);
        const decision = await postDecision(t, cookie, fields, { decision: 'allow' });
        expect(safeEqual).toHaveBeenCalledWith(expect.any(String), fields.csrf_token[0]);

        expect((await exchange(t, web, locationParams(decision).params.code, verifier)).status).toBe(200);
        expect(safeEqual.mock.calls.some((args) => args.includes(mine))).toBe(true);
      } finally {
        safeEqual.mockRestore();
      }
    });

    it('«constant-time secret comparison» — client secrets are checked by bcrypt (verifyPassword), never compared as strings', async () => {
      const daemon = await createApp(t, admin, { name: `daemon-${unique()}`, grant_types: ['client_credentials'], redirect_uris: [] });
      const verify = jest.spyOn(t.app.get(CryptoService), 'verifyPassword');
      try {
        expect((await tokenRequest(t, daemon, { grant_type: 'client_credentials' })).status).toBe(200);
        expect(verify).toHaveBeenCalledWith(daemon.clientSecret, expect.stringMatching(/^\$2[aby]\$/));
      } finally {
        verify.mockRestore();
      }
    });

    describe('in the source', () => {
      const SRC = join(__dirname, '..', '..', 'src');
      const files = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [join(dir, e.name)] : []));
      /** Names that hold a secret or a value compared with one. */
      const SECRET_NAME = /(secret|csrf|verifier|challenge|password|token|hash|rawid|sessionid)$/i;
      const EQUALITY = new Set([ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.EqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken]);

      const nameOf = (n: ts.Node): string | undefined => {
        if (ts.isIdentifier(n)) return n.text;
        if (ts.isPropertyAccessExpression(n)) return n.name.text;
        if (ts.isElementAccessExpression(n) && ts.isStringLiteralLike(n.argumentExpression)) return n.argumentExpression.text;
        if (ts.isParenthesizedExpression(n) || ts.isNonNullExpression(n) || ts.isAsExpression(n)) return nameOf(n.expression);
        if (ts.isCallExpression(n)) return nameOf(n.expression);
        return undefined;
      };
      /** Comparing with a literal, a type or a length tells nothing about a secret's content. */
      const harmless = (n: ts.Node): boolean =>
        ts.isLiteralExpression(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTypeOfExpression(n) ||
        [ts.SyntaxKind.NullKeyword, ts.SyntaxKind.TrueKeyword, ts.SyntaxKind.FalseKeyword].includes(n.kind) ||
        (ts.isIdentifier(n) && n.text === 'undefined') || (ts.isPropertyAccessExpression(n) && n.name.text === 'length') ||
        (ts.isPrefixUnaryExpression(n) && ts.isNumericLiteral(n.operand));

      /** Every `===`/`!==` (or `==`/`!=`) whose operand names a secret and whose other side is not a literal. */
      function plainSecretComparisons(fileName: string, text: string): string[] {
        const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
        const found: string[] = [];
        const visit = (node: ts.Node): void => {
          if (ts.isBinaryExpression(node) && EQUALITY.has(node.operatorToken.kind)) {
            for (const [side, other] of [[node.left, node.right], [node.right, node.left]]) {
              const name = nameOf(side);
              if (name && SECRET_NAME.test(name) && !harmless(other)) {
                found.push(`${fileName}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1} ${node.getText()}`);
                break;
              }
            }
          }
          ts.forEachChild(node, visit);
        };
        visit(source);
        return found;
      }

      it('«constant-time secret comparison» — the source scan finds a plain === on a secret (the control for the scan below)', () => {
        const sample = 'if (form.csrf_token !== expectedCsrf) deny(); if (typeof form.csrf_token !== "string") deny(); if (secret.length === 0) deny();';
        expect(plainSecretComparisons('sample.ts', sample)).toEqual(['sample.ts:1 form.csrf_token !== expectedCsrf']);
      });

      it('«constant-time secret comparison» — no file in src/ compares a secret, token, hash, CSRF token or PKCE value with === or !==', () => {
        const found = files(SRC).flatMap((f) => plainSecretComparisons(relative(SRC, f), readFileSync(f, 'utf8')));
        expect(found).toEqual([]);
      });

      it('«constant-time secret comparison» — crypto.timingSafeEqual and bcrypt’s compare are used in one place only, the CryptoService', () => {
        const users = files(SRC).filter((f) => /timingSafeEqual|bcrypt\.compare|\bcompareSync\b/.test(readFileSync(f, 'utf8'))).map((f) => relative(SRC, f));
        expect(users).toEqual([join('common', 'crypto', 'crypto.service.ts')]);
      });
    });
  });

  describe('«no secret, token or password in any log line»', () => {
    /** The app's log line for the request with this id (the line is written when the response finishes). */
    async function logLineOf(requestId: string): Promise<Record<string, unknown> | undefined> {
      const find = async () => t.logs.entries().find((e) => (e.req as { id?: string } | undefined)?.id === requestId);
      return (await pollUntil(find, (line) => line !== undefined, 10_000)).value;
    }

    it.each(['id_token_hint', 'client_assertion', 'assertion', 'subject_token', 'actor_token', 'client_secret', 'code', 'code_verifier', 'access_token', 'refresh_token', 'password'])(
      '«no secret … in any log line» — %s in a query string is not written',
      async (name) => {
        const secret = `SECRET-${name}-${randomBytes(12).toString('hex')}`;
        const requestId = `sec7-${name}-${unique()}`;
        const logged = await logsDuring(t, async () => {
          await request(t.url).get(`/oauth2/authorize?${query({ ...authorizeParams(web, challenge), [name]: secret })}`).set('X-Request-Id', requestId).redirects(0);
          expect(await logLineOf(requestId)).toMatchObject({ req: { url: expect.stringContaining('/oauth2/authorize?') } });
        });
        expect(logged).not.toContain(secret);
      },
    );

    it('«no secret … in any log line» — a secret parameter with a percent-encoded name is not written', async () => {
      const secret = `SECRET-${randomBytes(12).toString('hex')}`;
      const requestId = `sec7-encoded-${unique()}`;
      const logged = await logsDuring(t, async () => {
        await request(t.url).get(`/oauth2/authorize?client_id=${web.clientId}&id%5Ftoken%5Fhint=${secret}`).set('X-Request-Id', requestId).redirects(0);
        await logLineOf(requestId);
      });
      expect(logged).not.toContain(secret);
    });

    it.each([
      ['a code inside return_to', (secret: string) => `/login?return_to=${encodeURIComponent(`/oauth2/authorize?client_id=x&code=${secret}`)}`],
      ['an id_token_hint inside return_to', (secret: string) => `/login?return_to=${encodeURIComponent(`/oauth2/authorize?client_id=x&id_token_hint=${secret}`)}`],
      ['a secret two return_to levels deep', (secret: string) => `/login?return_to=${encodeURIComponent(`/login?return_to=${encodeURIComponent(`/oauth2/authorize?subject_token=${secret}`)}`)}`],
    ])('«no secret … in any log line» — %s is not written', async (_name, url) => {
      const secret = `SECRET-${randomBytes(12).toString('hex')}`;
      const requestId = `sec7-nested-${unique()}`;
      const logged = await logsDuring(t, async () => {
        await request(t.url).get(url(secret)).set('X-Request-Id', requestId);
        expect(await logLineOf(requestId)).toMatchObject({ req: { url: expect.stringContaining('/login?') } });
      });
      expect(logged).not.toContain(secret);
    });

    it('«no secret, token or password in any log line» — a whole flow writes none of its passwords, session ids, codes, verifiers, tokens or client secrets', async () => {
      const secrets: string[] = [];
      const logged = await logsDuring(t, async () => {
        const password = `pw-${randomBytes(8).toString('hex')}`;
        const user = await createUser(t, admin, { username: `u-${unique()}`, password });
        await postLogin(t, user.username, `wrong-${password}`);
        const cookie = await signIn(t, user.username, password);
        const { code, verifier } = await authorizeAndConsent(t, web, cookie, WITH_REFRESH);
        const tokens = (await exchange(t, web, code, verifier)).body;
        const rotated = await rotate(t, web, tokens.refresh_token);
        await exchange(t, web, code, verifier);
        await request(t.url).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: resourceServer.clientId, client_secret: `wrong-${resourceServer.clientSecret}` });
        await introspect(t, resourceServer, rotated.access_token);
        await revoke(t, web, rotated.refresh_token!);
        secrets.push(password, `wrong-${password}`, cookie.split('=')[1], code, verifier, tokens.access_token, tokens.refresh_token, tokens.id_token, rotated.access_token, rotated.refresh_token!, web.clientSecret!, resourceServer.clientSecret!, `wrong-${resourceServer.clientSecret}`);
      });
      expect(logged.length).toBeGreaterThan(0);
      expect(secrets.filter((s) => logged.includes(s))).toEqual([]);
    });
  });

  describe('«malformed input of any kind (wrong types, huge bodies, bad encodings, NUL bytes, deep nesting, no body) gets a 4xx with a clear message, never a 500»', () => {
    const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const token = () => request(t.url).post('/oauth2/token').set('Authorization', basic(web.clientId, web.clientSecret!));
    const json = (req: request.Test, body: string) => req.set('Content-Type', 'application/json').send(body);

    /** RFC 6749 §5.2 at the token endpoint: 400 invalid_request (413 for a body over the limit), not cacheable. */
    const tokenCases: [string, () => request.Test, number][] = [
      ['wrong types: grant_type as a JSON number', () => json(token(), '{"grant_type":42}'), 400],
      ['wrong types: a JSON array as the body', () => json(token(), '["grant_type","refresh_token"]'), 400],
      ['wrong types: an object for refresh_token', () => json(token(), '{"grant_type":"refresh_token","refresh_token":{"$ne":""}}'), 400],
      ['huge bodies: a 200 kB form', () => token().type('form').send({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(200_000) }), 413],
      ['bad encodings: an unknown charset', () => token().set('Content-Type', 'application/x-www-form-urlencoded; charset=klingon').send('grant_type=refresh_token'), 415],
      ['bad encodings: malformed JSON', () => json(token(), '{"grant_type":'), 400],
      ['NUL bytes: %00 in a form value', () => token().type('form').send('grant_type=refresh_token&refresh_token=abc%00def'), 400],
      ['NUL bytes: \\u0000 in a JSON string', () => json(token(), '{"grant_type":"refresh_token","refresh_token":"abc\\u0000def"}'), 400],
      ['lone surrogates: \\ud800 in a JSON string', () => json(token(), '{"grant_type":"refresh_token","refresh_token":"abc\\ud800def"}'), 400],
      ['NUL bytes in the Basic credentials', () => request(t.url).post('/oauth2/token').set('Authorization', basic(`${web.clientId}\u0000`, web.clientSecret!)).type('form').send({ grant_type: 'client_credentials' }), 400],
      ['deep nesting: 1,000 nested JSON arrays', () => json(token(), `{"grant_type":"refresh_token","refresh_token":${deep(1000)}}`), 400],
      ['deep nesting: 30,000 nested JSON arrays', () => json(token(), `{"grant_type":"refresh_token","refresh_token":${deep(30_000)}}`), 400],
      ['no body', () => token(), 400],
      ['a text/plain body', () => token().set('Content-Type', 'text/plain').send('grant_type=refresh_token'), 400],
    ];

    it.each(tokenCases)('«malformed input … gets a 4xx with a clear message, never a 500» — POST /oauth2/token with %s: invalid_request', async (_name, send, status) => {
      const res = await send();
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/\S/) });
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it.each([
      ['/oauth2/revoke', 'token=abc%00def'],
      ['/oauth2/introspect', 'token=abc%00def'],
    ])('«malformed input … gets a 4xx with a clear message, never a 500» — POST %s with NUL bytes: %%00 in a form value: invalid_request', async (path, form) => {
      const res = await request(t.url).post(path).set('Authorization', basic(web.clientId, web.clientSecret!)).type('form').send(form);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/\S/) });
    });

    it('«malformed input … gets a 4xx with a clear message, never a 500» — GET /api/v1/users/:id with NUL bytes: %00 in the id: a 4xx problem+json', async () => {
      const res = await request(t.url).get('/api/v1/users/abc%00def').set('Cookie', admin);
      expect([400, 404]).toContain(res.status);
      expectProblemBody(res, res.status, /^(validation_error|invalid_parameter|not_found)$/);
    });

    const users = () => request(t.url).post('/api/v1/users').set('Cookie', admin);
    const apiCases: [string, () => request.Test, number, string | RegExp][] = [
      ['wrong types: a number for username', () => users().send({ username: 42, password: 'long-enough-password' }), 400, 'validation_error'],
      ['NUL bytes: \\u0000 in a JSON string', () => json(users(), '{"username":"nul\\u0000user","password":"long-enough-password"}'), 400, /^(validation_error|invalid_parameter)$/],
      ['lone surrogates: \\ud800 in a JSON string', () => json(users(), '{"username":"lone\\ud800user","password":"long-enough-password"}'), 400, /^(validation_error|invalid_parameter)$/],
      ['deep nesting: 1,000 nested JSON arrays', () => json(users(), `{"username":${deep(1000)},"password":"long-enough-password"}`), 400, /^(validation_error|invalid_parameter)$/],
      ['huge bodies: a 150 kB JSON body', () => users().send({ username: 'x'.repeat(150 * 1024), password: 'long-enough-password' }), 413, 'unspecified'],
      ['bad encodings: malformed JSON', () => json(users(), '{"username":'), 400, 'invalid_parameter'],
      ['no body', () => users(), 400, 'validation_error'],
    ];

    it.each(apiCases)('«malformed input … gets a 4xx with a clear message, never a 500» — POST /api/v1/users with %s: problem+json', async (_name, send, status, type) => {
      expectProblemBody(await send(), status, type);
    });

    it.each([
      ['NUL bytes: %00 in client_id', 'client_id=web%00&response_type=code'],
      ['wrong types: client_id as an object', 'client_id[a]=b&response_type=code'],
      ['bad encodings: a broken percent-escape in client_id', 'client_id=%E0%A4%A&response_type=code'],
    ])('«malformed input … gets a 4xx with a clear message, never a 500» — GET /oauth2/authorize with %s: the 400 page', async (_name, search) => {
      expectErrorPage(await request(t.url).get(`/oauth2/authorize?${search}`).redirects(0));
    });

    it('«malformed input … never a 500» — POST /login with a NUL byte in the username answers a 400 page and no session', async () => {
      const form = await loginForm(t);
      const res = await request(t.url).post('/login').set('Cookie', form.cookie).type('form').send(`username=ad%00min&password=x&csrf_token=${form.csrfToken}`);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(cookiesOf(res).session_id).toBeUndefined();
    });

    it.each([
      ['no body', (req: request.Test) => req],
      ['a text/plain body', (req: request.Test) => req.set('Content-Type', 'text/plain').send('username=admin')],
    ])('«malformed input … never a 500» — POST /login with %s answers a 4xx page', async (_name, shape) => {
      const form = await loginForm(t);
      const res = await shape(request(t.url).post('/login').set('Cookie', form.cookie));
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    });

    it.each([
      ['no body', (req: request.Test) => req],
      ['a text/plain body', (req: request.Test) => req.set('Content-Type', 'text/plain').send('csrf_token=x')],
    ])('«malformed input … never a 500» — POST /logout with %s is refused without a 500, and the session survives', async (_name, shape) => {
      const { cookie } = await freshUser();
      const res = await shape(request(t.url).post('/logout').set('Cookie', cookie));
      expect([303, 400, 403]).toContain(res.status);
      expect((await myAuthorizations(t, { cookie })).status).toBe(200);
    });

    it.each([
      ['no body', (req: request.Test) => req],
      ['a text/plain body', (req: request.Test) => req.set('Content-Type', 'text/plain').send('csrf_token=x')],
    ])('«malformed input … never a 500» — POST /account/apps/:id/revoke with %s is refused without a 500, and the grant survives', async (_name, shape) => {
      const { cookie } = await freshUser();
      await authorizeAndConsent(t, web, cookie);
      const grantId = await grantIdOf(t, cookie, web);
      const res = await shape(request(t.url).post(`/account/apps/${grantId}/revoke`).set('Cookie', cookie));
      expect([303, 400, 403]).toContain(res.status);
      expect(res.headers.location ?? '').not.toBe('/account/apps?revoked=1');
      expect(await grantIdOf(t, cookie, web)).toBe(grantId);
    });

    it('«malformed input … never a 500» — POST /oauth2/authorize (the consent form) with no body gets the 400 page', async () => {
      const { cookie } = await freshUser();
      expectErrorPage(await request(t.url).post('/oauth2/authorize').set('Cookie', cookie).redirects(0));
    });
  });

  describe('«every token dies with what it came from (grant, refresh family, browser session, app, the user\'s role or password)»', () => {
    /** An access token of consoleApp with the `account` scope, and a principal token minted from it. */
    async function principalFromAppToken(cookie: string) {
      const source = await issueTokens(t, consoleApp, cookie, { scope: 'openid offline_access account' });
      const res = await principalToken(t, { bearer: source.access_token });
      if (res.status !== 200) throw new Error(`principal token from an app token: ${res.status} ${res.text}`);
      const principal = res.body.access_token as string;
      expect((await myAuthorizations(t, { bearer: principal })).status).toBe(200);
      return { source, principal };
    }

    async function expectDead(accessToken: string): Promise<void> {
      const res = await myAuthorizations(t, { bearer: accessToken });
      expect(res.status).toBe(401);
      expect(await isActive(accessToken)).toEqual(INACTIVE);
    }

    it('«every token dies with what it came from (grant…)» — revoking the grant kills its access token and its refresh token', async () => {
      const { cookie } = await freshUser();
      const tokens = await issueTokens(t, web, cookie);
      const grantId = await grantIdOf(t, cookie, web);
      expect((await request(t.url).delete(`/api/v0/users/me/oauth2/authorizations/${grantId}`).set('Cookie', cookie)).status).toBe(204);
      expect(await isActive(tokens.access_token)).toEqual(INACTIVE);
      expect((await refresh(t, web, tokens.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
    });

    it('«every token dies with what it came from (…refresh family…)» — revoking the refresh token kills the access tokens of its family', async () => {
      const { cookie } = await freshUser();
      const first = await issueTokens(t, web, cookie);
      const second = await rotate(t, web, first.refresh_token!);
      expect((await revoke(t, web, second.refresh_token!)).status).toBe(200);
      expect(await isActive(first.access_token)).toEqual(INACTIVE);
      expect(await isActive(second.access_token)).toEqual(INACTIVE);
    });

    it('«every token dies with what it came from» — a principal token never outlives its source: its exp is at most the source’s', async () => {
      const { cookie } = await freshUser();
      const { source, principal } = await principalFromAppToken(cookie);
      expect(decodeJwt(principal).exp!).toBeLessThanOrEqual(decodeJwt(source.access_token).exp!);
    });

    it('«every token dies with what it came from» — a principal token dies when the app revokes its source token at /oauth2/revoke', async () => {
      const { cookie } = await freshUser();
      const { source, principal } = await principalFromAppToken(cookie);
      expect((await revoke(t, consoleApp, source.access_token)).status).toBe(200);
      await expectDead(principal);
    });

    it('«every token dies with what it came from (grant…)» — a principal token dies when the grant of its source is revoked', async () => {
      const { cookie } = await freshUser();
      const { principal } = await principalFromAppToken(cookie);
      const grantId = await grantIdOf(t, cookie, consoleApp);
      expect((await request(t.url).delete(`/api/v0/users/me/oauth2/authorizations/${grantId}`).set('Cookie', cookie)).status).toBe(204);
      await expectDead(principal);
    });

    it('«every token dies with what it came from (…refresh family…)» — a principal token dies when the refresh family of its source is revoked', async () => {
      const { cookie } = await freshUser();
      const { source, principal } = await principalFromAppToken(cookie);
      expect((await revoke(t, consoleApp, source.refresh_token!)).status).toBe(200);
      await expectDead(principal);
    });

    it('«every token dies with what it came from» — a principal token cannot mint another: 403', async () => {
      const { cookie } = await freshUser();
      const { principal } = await principalFromAppToken(cookie);
      const res = await principalToken(t, { bearer: principal });
      expectProblemBody(res, 403, 'forbidden');
    });

    it('«every token dies with what it came from (…browser session…)» — a principal token minted with a session dies at POST /logout of that session', async () => {
      const { cookie } = await freshUser();
      const principal = (await principalToken(t, { cookie })).body.access_token as string;
      expect((await myAuthorizations(t, { bearer: principal })).status).toBe(200);
      const logout = await request(t.url).post('/logout').set('Cookie', cookie).type('form').send({ csrf_token: await sessionCsrf(t, cookie) });
      expect(logout.status).toBe(303);
      await expectDead(principal);
    });

    it('«every token dies with what it came from (…app…)» — deleting an app makes its access tokens inactive at once', async () => {
      const doomed = await createApp(t, admin, { name: `doomed-${unique()}`, grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://doomed.example.com/cb'] });
      const { cookie } = await freshUser();
      const tokens = await issueTokens(t, doomed, cookie);
      expect(await isActive(tokens.access_token)).toMatchObject({ active: true });
      expect((await request(t.url).delete(`/api/v1/oauth2/apps/${doomed.id}`).set('Cookie', admin)).status).toBe(204);
      expect(await isActive(tokens.access_token)).toEqual(INACTIVE);
      expect((await userinfo(t, tokens.access_token)).status).toBe(401);
    });

    const credentialEnders: [string, (userId: string) => request.Test][] = [
      ['demoting the user (role admin → user)', (id) => request(t.url).patch(`/api/v1/users/${id}`).set('Cookie', admin).send({ role: 'user' })],
      ['changing the user’s password', (id) => request(t.url).patch(`/api/v1/users/${id}`).set('Cookie', admin).send({ password: `new-password-${unique()}` })],
      ['deleting the user', (id) => request(t.url).delete(`/api/v1/users/${id}`).set('Cookie', admin)],
    ];

    it.each(credentialEnders)("«every token dies with what it came from (…the user's role or password)» — %s ends their browser sessions", async (_name, end) => {
      const user = await freshUser('admin');
      expect((await end(user.id)).status).toBeLessThan(300);
      expect((await myAuthorizations(t, { cookie: user.cookie })).status).toBe(401);
    });

    it.each(credentialEnders)("«every token dies with what it came from (…the user's role or password)» — %s ends their refresh tokens", async (_name, end) => {
      const user = await freshUser('admin');
      const tokens = await issueTokens(t, web, user.cookie);
      expect((await end(user.id)).status).toBeLessThan(300);
      const res = await refresh(t, web, tokens.refresh_token!);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_grant'));
    });

    it.each(credentialEnders)("«every token dies with what it came from (…the user's role or password)» — %s makes their access tokens inactive", async (_name, end) => {
      const user = await freshUser('admin');
      const tokens = await issueTokens(t, web, user.cookie);
      const principal = (await principalToken(t, { cookie: user.cookie })).body.access_token as string;
      expect((await end(user.id)).status).toBeLessThan(300);
      expect(await isActive(tokens.access_token)).toEqual(INACTIVE);
      expect(await isActive(principal)).toEqual(INACTIVE);
    });
  });

  describe('«no token is issued for a scope or resource the user did not approve»', () => {
    const API_ONE = 'https://api.one.example';
    const API_TWO = 'https://api.two.example';

    it('«no token is issued for a … resource the user did not approve» — consent for one resource does not cover another: the consent page again, listing it', async () => {
      const { cookie } = await freshUser();
      await authorizeAndConsent(t, web, cookie, { resource: API_ONE });
      const res = await getAuthorize(t, authorizeParams(web, challenge, { resource: API_TWO }), cookie);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain(API_TWO);
      expect(consentForm(res.text).csrf_token).toHaveLength(1);
    });

    it('«no token is issued for a … resource the user did not approve» — with prompt=none, a new resource is consent_required', async () => {
      const { cookie } = await freshUser();
      await authorizeAndConsent(t, web, cookie, { resource: API_ONE });
      const res = await getAuthorize(t, authorizeParams(web, challenge, { resource: API_TWO, prompt: 'none', state: 'res-2' }), cookie);
      expectErrorRedirect(res, web, 'consent_required', 'res-2', t.url);
    });

    it('«no token is issued for a … resource the user did not approve» — the approved resource itself is remembered (the control for the cases above)', async () => {
      const { cookie } = await freshUser();
      await authorizeAndConsent(t, web, cookie, { resource: API_ONE });
      const res = await getAuthorize(t, authorizeParams(web, challenge, { resource: API_ONE, prompt: 'none' }), cookie);
      expect(locationParams(res).params.code).toEqual(expect.any(String));
    });

    it('«no token is issued for a … resource the user did not approve» — a token request naming an unapproved resource: invalid_target', async () => {
      const { cookie } = await freshUser();
      const { code, verifier } = await authorizeAndConsent(t, web, cookie, { resource: API_ONE });
      const res = await exchange(t, web, code, verifier, { resource: API_TWO });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_target'));
    });

    it('«no token is issued for a scope … the user did not approve» — a refresh asking for more scope: invalid_scope', async () => {
      const { cookie } = await freshUser();
      const { refresh_token } = await issueTokens(t, web, cookie, { scope: 'openid offline_access' });
      const res = await refresh(t, web, refresh_token!, { scope: 'openid offline_access email' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(oauthError('invalid_scope'));
    });

    it('«no token is issued for a scope … the user did not approve» — an OpenID request without offline_access gets no refresh token', async () => {
      const { cookie } = await freshUser();
      const tokens = await issueTokens(t, web, cookie, { scope: 'openid profile' });
      expect(tokens.refresh_token).toBeUndefined();
      expect(tokens.scope).toBe('openid profile');
    });

    it('«no token is issued for a scope … the user did not approve» — an OpenID request with offline_access granted gets one (the control)', async () => {
      const { cookie } = await freshUser();
      const tokens = await issueTokens(t, web, cookie, { scope: 'openid profile offline_access' });
      expect(tokens.refresh_token).toEqual(expect.any(String));
    });

    it('«no token is issued for a scope … the user did not approve» — a user without the admin role is not granted admin', async () => {
      const { cookie } = await freshUser();
      const tokens = await issueTokens(t, consoleApp, cookie, { scope: 'openid admin' });
      expect(tokens.scope).toBe('openid');
      expect(decodeJwt(tokens.access_token).scope).toBe('openid');
    });

    describe('the JSON authorize endpoint approves apps for the signed-in user only', () => {
      const approval = () => ({ client_id: web.clientId, redirect_uri: web.redirectUri, response_type: 'code', scope: ['openid', 'profile'], state: 'json', code_challenge: challenge, code_challenge_method: 'S256' });
      const rowCounts = async () => (await sql<{ grants: number; codes: number }>(t, 'SELECT (SELECT count(*)::int FROM grants) AS grants, (SELECT count(*)::int FROM authorization_codes) AS codes'))[0];

      it.each(['openid', 'openid account', 'openid account admin'])(
        '«no token is issued for a scope … the user did not approve» — an app’s access token (scope %s) cannot approve an app at POST /api/v1/oauth2/authorize: 403, nothing recorded',
        async (scope) => {
          const appToken = (await issueTokens(t, consoleApp, admin, { scope })).access_token;
          const before = await rowCounts();
          const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Authorization', `Bearer ${appToken}`).send(approval());
          expectProblemBody(res, 403, 'forbidden');
          expect(await rowCounts()).toEqual(before);
        },
      );

      it.each([
        ['no Origin', undefined],
        ['the server’s own Origin', 'self'],
      ])('«no token is issued for a scope … the user did not approve» — the user’s own session with %s approves: 200 {redirect_uri} holding a code', async (_name, origin) => {
        const { cookie } = await freshUser();
        const req = request(t.url).post('/api/v1/oauth2/authorize').set('Cookie', cookie);
        const res = await (origin ? req.set('Origin', t.url) : req).send(approval());
        expect(res.status).toBe(200);
        expect(Object.keys(res.body)).toEqual(['redirect_uri']);
        expect(new URL(res.body.redirect_uri).searchParams.get('code')).toEqual(expect.any(String));
      });

      it('«no token is issued for a scope … the user did not approve» — the session cookie sent from a foreign Origin cannot approve: 403, nothing recorded', async () => {
        const { cookie } = await freshUser();
        const before = await rowCounts();
        const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Cookie', cookie).set('Origin', 'https://evil.example').send(approval());
        expectProblemBody(res, 403, 'forbidden');
        expect(await rowCounts()).toEqual(before);
      });
    });

    describe('a self-registered app is never granted account or admin', () => {
      it.each(['account', 'admin', 'openid account'])('«no token is issued for a scope … the user did not approve» — registering with scope %j: 400 invalid_client_metadata', async (scope) => {
        const res = await request(t.url).post('/oauth2/register').send({ redirect_uris: ['https://self.example.net/cb'], scope });
        expect(res.status).toBe(400);
        expect(res.body).toEqual(oauthError('invalid_client_metadata'));
      });

      it('«no token is issued for a scope … the user did not approve» — an app registered without scope may use neither account nor admin', async () => {
        const res = await request(t.url).post('/oauth2/register').send({ redirect_uris: ['https://self.example.net/cb'] });
        expect(res.status).toBe(201);
        expect(res.body.scope.split(' ')).toEqual(expect.not.arrayContaining(['account']));
        expect(res.body.scope.split(' ')).toEqual(expect.not.arrayContaining(['admin']));
      });
    });
  });
});

/**
 * Two instances behind one load balancer: one issuer, one PostgreSQL, nothing else shared. Both run in this one
 * process, where passport keeps a single registry of strategies: a bearer token sent to A's /api routes would be
 * checked by B's strategy. So these tests reach the instances through userinfo, introspection, the token endpoint
 * and session cookies, which do not go through passport.
 */
describe('SPEC §7 on two instances of one deployment', () => {
  let a: TestApp;
  let b: TestApp;
  let adminAtA: string;
  let app: RegisteredApp;
  let resourceServer: RegisteredApp;
  /** SPEC §7 "at once": notifications take milliseconds; the bound is generous so a loaded machine passes too. */
  const AT_ONCE_MS = 10_000;

  beforeAll(async () => {
    a = await bootApp();
    b = await bootApp({ databaseUrl: a.databaseUrl, env: { ISSUER_URL: a.url } });
    adminAtA = await signIn(a);
    app = await createApp(a, adminAtA, { name: 'two-instances', grant_types: ['authorization_code', 'refresh_token'] });
    resourceServer = await createApp(a, adminAtA, { name: 'rs', grant_types: ['client_credentials'], redirect_uris: [] });
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  async function userAtA(): Promise<{ id: string; username: string; password: string; cookie: string }> {
    const user = await createUser(a, adminAtA, { username: `u-${unique()}` });
    return { ...user, cookie: await signIn(a, user.username, user.password) };
  }

  describe('«a revoked token stops working on every instance at once»', () => {
    it('«a revoked token stops working on every instance at once» — an access token revoked at A is refused at B at once', async () => {
      const { cookie } = await userAtA();
      const { access_token } = await issueTokens(a, app, cookie);
      expect((await userinfo(b, access_token)).status).toBe(200);
      expect((await revoke(a, app, access_token)).status).toBe(200);
      const { value, elapsed } = await pollUntil(() => userinfo(b, access_token), (r) => r.status === 401);
      expect(value.status).toBe(401);
      expect(elapsed).toBeLessThan(AT_ONCE_MS);
      expect((await introspect(b, resourceServer, access_token)).body).toEqual(INACTIVE);
    });

    it('«a revoked token stops working on every instance at once» — a refresh family revoked at A: its refresh token is refused at B, its access token at once', async () => {
      const { cookie } = await userAtA();
      const tokens = await issueTokens(a, app, cookie);
      expect((await revoke(a, app, tokens.refresh_token!)).status).toBe(200);
      expect((await refresh(b, app, tokens.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
      const { value, elapsed } = await pollUntil(() => userinfo(b, tokens.access_token), (r) => r.status === 401);
      expect(value.status).toBe(401);
      expect(elapsed).toBeLessThan(AT_ONCE_MS);
    });

    it('«a revoked token stops working on every instance at once» — a grant revoked at A: its access token is refused at B at once', async () => {
      const { cookie } = await userAtA();
      const tokens = await issueTokens(a, app, cookie);
      const grantId = await grantIdOf(a, cookie, app);
      expect((await request(a.url).delete(`/api/v0/users/me/oauth2/authorizations/${grantId}`).set('Cookie', cookie)).status).toBe(204);
      const { value, elapsed } = await pollUntil(() => userinfo(b, tokens.access_token), (r) => r.status === 401);
      expect(value.status).toBe(401);
      expect(elapsed).toBeLessThan(AT_ONCE_MS);
    });

    it('«a revoked token stops working on every instance at once» — a password changed at A ends the user’s session at B at once', async () => {
      const user = await userAtA();
      const atB = await signIn(b, user.username, user.password);
      expect((await myAuthorizations(b, { cookie: atB })).status).toBe(200);
      expect((await request(a.url).patch(`/api/v1/users/${user.id}`).set('Cookie', adminAtA).send({ password: `changed-${unique()}-pw` })).status).toBe(200);
      const { value, elapsed } = await pollUntil(() => myAuthorizations(b, { cookie: atB }), (r) => r.status === 401);
      expect(value.status).toBe(401);
      expect(elapsed).toBeLessThan(AT_ONCE_MS);
    });
  });

  /**
   * Last in this file: these spend failed sign-ins from 127.0.0.1 (about 80 of the per-address allowance of 100),
   * and every other test here needs to sign in.
   */
  describe('«sign-in limits hold under concurrent attempts and across instances»', () => {
    const attempt = async (t: TestApp, username: string, password: string) => {
      const form = await loginForm(t);
      return request(t.url).post('/login').set('Cookie', form.cookie).type('form').send({ username, password, csrf_token: form.csrfToken, return_to: '/' });
    };

    it('«sign-in limits hold under concurrent attempts» — of 60 simultaneous wrong passwords for one user at most 10 are checked (401), the rest get 429; then the right password gets 429', async () => {
      const victim = await createUser(a, adminAtA, { username: `u-${unique()}` });
      const forms = await Promise.all(Array.from({ length: 60 }, () => loginForm(a)));
      const answers = await Promise.all(forms.map((form, i) =>
        request(a.url).post('/login').set('Cookie', form.cookie).type('form').send({ username: victim.username, password: `wrong-${i}`, csrf_token: form.csrfToken, return_to: '/' })));
      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
      const checked = statuses.filter((s) => s === 401).length;
      expect(checked).toBeGreaterThan(0);
      expect(checked).toBeLessThanOrEqual(10);
      const right = await attempt(a, victim.username, victim.password);
      expect(right.status).toBe(429);
      expect(cookiesOf(right).session_id).toBeUndefined();
    }, 60_000);

    it('«sign-in limits hold … across instances» — wrong passwords alternating between A and B: 10 are checked, the rest get 429, and then the right password gets 429 at both', async () => {
      const victim = await createUser(a, adminAtA, { username: `u-${unique()}` });
      const statuses: number[] = [];
      for (let i = 0; i < 16; i++) statuses.push((await attempt(i % 2 === 0 ? a : b, victim.username, `wrong-${i}`)).status);
      expect(statuses).toEqual([...Array(10).fill(401), ...Array(6).fill(429)]);
      expect((await attempt(a, victim.username, victim.password)).status).toBe(429);
      expect((await attempt(b, victim.username, victim.password)).status).toBe(429);
    }, 60_000);
  });
});
