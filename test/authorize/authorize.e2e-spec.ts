import { createHash } from 'node:crypto';
import request from 'supertest';
import { sql } from '../helpers/database';
import { bootApp, TestApp } from '../helpers/app';
import { createApp, RegisteredApp } from '../helpers/clients';
import { createServiceAccount, createUser, signIn } from '../helpers/identity';
import { authorizeAndConsent, authorizeParams, consentForm, getAuthorize, locationParams, pkce, postDecision, query } from '../helpers/oauth';


/** An error page: 400 HTML, and above all no redirect anywhere. */
function expectErrorPage(res: request.Response, status = 400): void {
  expect(res.status).toBe(status);
  expect(res.headers.location).toBeUndefined();
  expect(res.headers['content-type']).toMatch(/^text\/html/);
}

/** A consent decision refused for its CSRF token: the same request on a fresh consent page, saying why. */
function expectFreshConsent(res: request.Response, original: string): void {
  expect(res.text).toContain('This page had expired, so your choice was not sent');
  const { csrf_token: fresh, ...fields } = consentForm(res.text);
  const { csrf_token: _original, ...originalFields } = consentForm(original);
  expect(fields).toEqual(originalFields);
  expect(fresh).toEqual([expect.any(String)]);
}

describe('GET /oauth2/authorize', () => {
  let t: TestApp;
  let admin: string;
  let user: string;
  let app: RegisteredApp;
  let publicApp: RegisteredApp;
  let twoUris: RegisteredApp;
  let nativeApp: RegisteredApp;
  const { challenge } = pkce();

  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
    const alice = await createUser(t, admin, { username: 'alice', given_name: 'Alice', family_name: 'Liddell' });
    user = await signIn(t, alice.username, alice.password);
    app = await createApp(t, admin, { name: 'web', display_name: 'Acme Web', redirect_uris: ['https://app.example.com/callback'] });
    publicApp = await createApp(t, admin, { name: 'spa', token_endpoint_auth_method: 'none', redirect_uris: ['https://spa.example.com/cb'] });
    twoUris = await createApp(t, admin, { name: 'two', redirect_uris: ['https://two.example.com/a', 'https://two.example.com/b'] });
    nativeApp = await createApp(t, admin, { name: 'cli', application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1:1234/callback'] });
  });
  afterAll(() => t.close());

  describe('step 1: client and redirect URI, shown to the user and never redirected', () => {
    it('refuses an unknown client_id with a 400 page', async () => {
      expectErrorPage(await getAuthorize(t, authorizeParams({ ...app, clientId: 'no-such-client' }, challenge), user));
    });

    it('refuses a missing client_id with a 400 page', async () => {
      expectErrorPage(await getAuthorize(t, authorizeParams(app, challenge, { client_id: undefined }), user));
    });

    it('refuses a repeated client_id with a 400 page', async () => {
      expectErrorPage(await getAuthorize(t, authorizeParams(app, challenge, { client_id: [app.clientId, app.clientId] }), user));
    });

    it.each([
      'https://evil.example/callback',
      'https://app.example.com/callback/',
      'https://app.example.com/callback?x=1',
      'https://app.example.com/callback#frag',
      'https://APP.example.com/callback',
      'https://app.example.com:443/callback',
      'https://app.example.com/Callback',
      'https://app.example.com/callback/../callback',
      'https://app.example.com.evil.example/callback',
      'https://app.example.com@evil.example/callback',
      'http://app.example.com/callback',
      '//evil.example/callback',
      '/callback',
      'javascript:alert(1)',
      'data:text/html,hi',
      'https://app.example.com/callback%00',
      ' https://app.example.com/callback',
    ])('refuses the unregistered redirect_uri %j with a 400 page', async (redirectUri) => {
      const res = await getAuthorize(t, authorizeParams(app, challenge, { redirect_uri: redirectUri }), user);
      expectErrorPage(res);
      expect(res.text).toContain('redirect_uri is not registered');
    });

    it('refuses a repeated redirect_uri with a 400 page', async () => {
      expectErrorPage(await getAuthorize(t, authorizeParams(app, challenge, { redirect_uri: [app.redirectUri, app.redirectUri] }), user));
    });

    it('uses the only registered redirect URI when redirect_uri is omitted', async () => {
      const res = await getAuthorize(t, authorizeParams(app, challenge, { redirect_uri: undefined, response_type: 'token' }), user);
      expect(res.status).toBe(303);
      expect(locationParams(res).base).toBe(app.redirectUri);
    });

    it('refuses an omitted redirect_uri when the app has several, with a 400 page', async () => {
      expectErrorPage(await getAuthorize(t, authorizeParams(twoUris, challenge, { redirect_uri: undefined }), user));
    });

    it('lets a native app use its loopback redirect on any port (RFC 8252 §7.3)', async () => {
      const res = await getAuthorize(t, authorizeParams(nativeApp, challenge, { redirect_uri: 'http://127.0.0.1:50123/callback', response_type: 'token' }), user);
      expect(res.status).toBe(303);
      expect(locationParams(res).base).toBe('http://127.0.0.1:50123/callback');
    });

    it('still refuses another loopback path for a native app', async () => {
      expectErrorPage(await getAuthorize(t, authorizeParams(nativeApp, challenge, { redirect_uri: 'http://127.0.0.1:50123/other' }), user));
    });

    it('does not grant the any-port rule to web apps', async () => {
      const loopbackWeb = await createApp(t, admin, { name: 'loop-web', redirect_uris: ['http://127.0.0.1:1234/callback'] });
      expectErrorPage(await getAuthorize(t, authorizeParams(loopbackWeb, challenge, { redirect_uri: 'http://127.0.0.1:4321/callback' }), user));
    });

    it('shows the page with its security headers', async () => {
      const res = await getAuthorize(t, authorizeParams({ ...app, clientId: 'nope' }, challenge), user);
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    });
  });

  describe('step 2: every other problem goes back to the client with error, error_description, state and iss', () => {
    async function expectErrorRedirect(params: Record<string, string | string[] | undefined>, error: string, target: RegisteredApp = app) {
      const res = await getAuthorize(t, authorizeParams(target, challenge, { state: 'xyz', ...params }), user);
      expect(res.status).toBe(303);
      const { base, params: answer } = locationParams(res);
      expect(base).toBe(target.redirectUri);
      expect(answer).toEqual({ error, error_description: expect.any(String), state: 'xyz', iss: t.url });
    }

    it('unsupported_response_type for response_type=token', () => expectErrorRedirect({ response_type: 'token' }, 'unsupported_response_type'));
    it('invalid_request for a missing response_type', () => expectErrorRedirect({ response_type: undefined }, 'invalid_request'));
    it('invalid_scope for an unknown scope', () => expectErrorRedirect({ scope: 'openid launch-missiles' }, 'invalid_scope'));
    it('invalid_scope for a scope the app may not use', async () => {
      const narrow = await createApp(t, admin, { name: 'narrow', scope: 'openid', redirect_uris: ['https://narrow.example.com/cb'] });
      await expectErrorRedirect({ scope: 'openid email' }, 'invalid_scope', narrow);
    });
    it('invalid_request without PKCE (confidential client, OAUTH2_REQUIRE_PKCE on)', () =>
      expectErrorRedirect({ code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'));
    it('invalid_request without PKCE (public client)', () =>
      expectErrorRedirect({ code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request', publicApp));
    it('invalid_request for code_challenge_method=plain', () => expectErrorRedirect({ code_challenge_method: 'plain' }, 'invalid_request'));
    it('invalid_request for a challenge without a method (which would mean plain)', () =>
      expectErrorRedirect({ code_challenge_method: undefined }, 'invalid_request'));
    it.each([
      ['too short', 'abc'],
      ['too long', 'a'.repeat(44)],
      ['outside base64url', `${'a'.repeat(42)}+`],
      ['padded', `${'a'.repeat(42)}=`],
    ])('invalid_request for a malformed challenge (%s)', (_name, value) => expectErrorRedirect({ code_challenge: value }, 'invalid_request'));
    it('invalid_request for a repeated state', async () => {
      const res = await getAuthorize(t, authorizeParams(app, challenge, { state: ['a', 'b'] }), user);
      expect(res.status).toBe(303);
      expect(locationParams(res).params).toMatchObject({ error: 'invalid_request', iss: t.url });
    });
    it('invalid_target for a malformed resource', () => expectErrorRedirect({ resource: 'not a uri' }, 'invalid_target'));
    it('invalid_target for a resource with a fragment', () => expectErrorRedirect({ resource: 'https://api.example.com/#x' }, 'invalid_target'));
    it('invalid_request for an unknown prompt', () => expectErrorRedirect({ prompt: 'sometimes' }, 'invalid_request'));
    it('keeps the registered query of the redirect URI', async () => {
      const withQuery = await createApp(t, admin, { name: 'q', redirect_uris: ['https://q.example.com/cb?tenant=7'] });
      const res = await getAuthorize(t, authorizeParams(withQuery, challenge, { response_type: 'token', state: 's' }), user);
      expect(res.headers.location).toMatch(/^https:\/\/q\.example\.com\/cb\?tenant=7&error=unsupported_response_type&/);
    });
  });

  describe('step 3: the session', () => {
    it('sends a visitor without a session to sign in, and back here after', async () => {
      const params = authorizeParams(app, challenge);
      const res = await getAuthorize(t, params);
      expect(res.status).toBe(303);
      const location = new URL(res.headers.location, t.url);
      expect(location.pathname).toBe('/login');
      const back = location.searchParams.get('return_to')!;
      expect(back.startsWith('/oauth2/authorize?')).toBe(true);
      expect(Object.fromEntries(new URL(back, t.url).searchParams)).toEqual(params);
    });

    it('answers login_required to prompt=none without a session', async () => {
      const res = await getAuthorize(t, authorizeParams(app, challenge, { prompt: 'none', state: 's1' }));
      expect(locationParams(res).params).toEqual({ error: 'login_required', error_description: expect.any(String), state: 's1', iss: t.url });
    });

    it('sends a signed-in user to sign in again for prompt=login, returning without it', async () => {
      const res = await getAuthorize(t, authorizeParams(app, challenge, { prompt: 'login consent' }), user);
      const back = new URL(new URL(res.headers.location, t.url).searchParams.get('return_to')!, t.url);
      expect(back.searchParams.get('prompt')).toBe('consent');
    });

    it('validates the request before asking anyone to sign in', async () => {
      const res = await getAuthorize(t, authorizeParams(app, challenge, { scope: 'nonsense' }));
      expect(locationParams(res).params.error).toBe('invalid_scope');
    });
  });

  describe('step 5: the consent page', () => {
    it('shows the app, each scope with its description, the redirect host, the user and the buttons', async () => {
      const res = await getAuthorize(t, authorizeParams(app, challenge, { scope: 'openid profile email' }), user);
      expect(res.status).toBe(200);
      expect(res.text).toContain('Acme Web');
      expect(res.text).toContain('See your name');
      expect(res.text).toContain('See your email address');
      expect(res.text).toContain('<code class="scope-name">email</code>');
      expect(res.text).toContain('You will be sent to <bdi class="redirect-host">app.example.com</bdi>');
      expect(res.text).toContain('Signed in as <strong><bdi>Alice Liddell</bdi></strong>');
      expect(res.text).toMatch(/Switch account/);
      expect(res.text).toMatch(/<button[^>]*value="deny"[^>]*>Deny<\/button>/);
      expect(res.text).toMatch(/<button[^>]*value="allow"[^>]*>Allow<\/button>/);
      expect(res.text).not.toContain('Not reviewed by your organisation');
      expect(res.text).toContain('Added by your organisation');
    });

    it('is not framable, not cached and sends no referrer', async () => {
      const res = await getAuthorize(t, authorizeParams(app, challenge), user);
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('marks a self-registered app clearly', async () => {
      await sql(t, `UPDATE apps SET provenance = 'dcr' WHERE client_id = $1`, [publicApp.clientId]);
      const res = await getAuthorize(t, authorizeParams(publicApp, challenge), user);
      expect(res.text).toContain('Not reviewed by your organisation');
      expect(res.text).not.toContain('Added by your organisation');
    });

    it('escapes what the client controls', async () => {
      const res = await getAuthorize(t, authorizeParams(app, challenge, { state: '"><script>alert(1)</script>' }), user);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain('<script>alert(1)</script>');
    });

    it('answers consent_required to prompt=none', async () => {
      const res = await getAuthorize(t, authorizeParams(app, challenge, { prompt: 'none', scope: 'openid email', state: 's2' }), user);
      expect(locationParams(res).params).toEqual({ error: 'consent_required', error_description: expect.any(String), state: 's2', iss: t.url });
    });
  });

  describe('POST /oauth2/authorize: the decision', () => {
    it('allow: 303 to the client with code, state and iss, and stores only the code hash', async () => {
      const page = await getAuthorize(t, authorizeParams(app, challenge, { state: 'allow-1' }), user);
      const res = await postDecision(t, user, consentForm(page.text), { decision: 'allow' });
      expect(res.status).toBe(303);
      const { base, params } = locationParams(res);
      expect(base).toBe(app.redirectUri);
      expect(params).toEqual({ code: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), state: 'allow-1', iss: t.url });
      const rows = await sql<{ code_hash: string; redirect_uri: string; code_challenge: string; code_challenge_method: string; scopes: string[]; ttl: number }>(
        t,
        `SELECT code_hash, redirect_uri, code_challenge, code_challenge_method, scopes,
                extract(epoch FROM expires_at - created_at)::int AS ttl
           FROM authorization_codes WHERE code_hash = $1`,
        [createHash('sha256').update(params.code).digest('hex')],
      );
      expect(rows).toEqual([{ code_hash: expect.any(String), redirect_uri: app.redirectUri, code_challenge: challenge, code_challenge_method: 'S256', scopes: ['openid', 'profile'], ttl: 60 }]);
      expect(JSON.stringify(await sql(t, 'SELECT * FROM authorization_codes'))).not.toContain(params.code);
    });

    it('deny: 303 to the client with access_denied, state and iss', async () => {
      const page = await getAuthorize(t, authorizeParams(app, challenge, { state: 'deny-1', scope: 'openid email' }), user);
      const res = await postDecision(t, user, consentForm(page.text), { decision: 'deny' });
      expect(res.status).toBe(303);
      expect(locationParams(res).params).toEqual({ error: 'access_denied', error_description: expect.any(String), state: 'deny-1', iss: t.url });
    });

    it.each([
      ['yes', 'code'],
      ['no', 'error'],
    ])('accepts confirm=%s', async (confirm, expected) => {
      const page = await getAuthorize(t, authorizeParams(app, challenge, { scope: 'openid email', prompt: 'consent' }), user);
      const res = await postDecision(t, user, consentForm(page.text), { confirm });
      expect(Object.keys(locationParams(res).params)).toContain(expected);
    });

    it('gives no code without the CSRF token', async () => {
      const page = await getAuthorize(t, authorizeParams(app, challenge, { scope: 'openid email', prompt: 'consent' }), user);
      const { csrf_token: _dropped, ...fields } = consentForm(page.text);
      const res = await postDecision(t, user, fields, { decision: 'allow' });
      expectErrorPage(res, 403);
      expectFreshConsent(res, page.text);
    });

    it("gives no code with another session's CSRF token", async () => {
      const otherSession = await signIn(t);
      const otherPage = await getAuthorize(t, authorizeParams(app, challenge, { prompt: 'consent' }), otherSession);
      const page = await getAuthorize(t, authorizeParams(app, challenge, { scope: 'openid email', prompt: 'consent' }), user);
      const res = await postDecision(t, user, { ...consentForm(page.text), csrf_token: consentForm(otherPage.text).csrf_token }, { decision: 'allow' });
      expectErrorPage(res, 403);
      expectFreshConsent(res, page.text);
    });

    it('an expired consent form is shown again, fresh, and the fresh one works', async () => {
      const page = await getAuthorize(t, authorizeParams(app, challenge, { scope: 'openid email', prompt: 'consent', state: 'again' }), user);
      const refused = await postDecision(t, user, { ...consentForm(page.text), csrf_token: ['stale'] }, { decision: 'allow' });
      expectErrorPage(refused, 403);
      const res = await postDecision(t, user, consentForm(refused.text), { decision: 'allow' });
      expect(res.status).toBe(303);
      expect(locationParams(res).params).toMatchObject({ code: expect.any(String), state: 'again' });
    });

    it('re-validates the hidden fields: a swapped redirect_uri gets the error page, not a redirect', async () => {
      const page = await getAuthorize(t, authorizeParams(app, challenge, { prompt: 'consent' }), user);
      const res = await postDecision(t, user, { ...consentForm(page.text), redirect_uri: ['https://evil.example/steal'] }, { decision: 'allow' });
      expectErrorPage(res);
    });

    it('re-validates the hidden fields: a widened scope is refused', async () => {
      const narrow = await createApp(t, admin, { name: 'narrow2', scope: 'openid profile', redirect_uris: ['https://narrow2.example.com/cb'] });
      const page = await getAuthorize(t, authorizeParams(narrow, challenge), user);
      const res = await postDecision(t, user, { ...consentForm(page.text), scope: ['openid profile admin'] }, { decision: 'allow' });
      expect(locationParams(res).params.error).toBe('invalid_scope');
    });

    it('sends a decision without a session to sign in', async () => {
      const page = await getAuthorize(t, authorizeParams(app, challenge, { prompt: 'consent' }), user);
      const res = await postDecision(t, 'session_id=gone', consentForm(page.text), { decision: 'allow' });
      expect(res.status).toBe(303);
      expect(res.headers.location).toMatch(/^\/login\?return_to=/);
    });

    it('refuses a decision that is neither allow nor deny', async () => {
      const page = await getAuthorize(t, authorizeParams(app, challenge, { prompt: 'consent' }), user);
      expectErrorPage(await postDecision(t, user, consentForm(page.text), { decision: 'maybe' }));
    });
  });

  describe('step 4: consent memory', () => {
    let memo: RegisteredApp;
    beforeAll(async () => {
      memo = await createApp(t, admin, { name: 'memo', redirect_uris: ['https://memo.example.com/cb'] });
      await authorizeAndConsent(t, memo, user, { scope: 'openid profile' });
    });

    it('answers a second request for granted scopes at once with a code', async () => {
      const res = await getAuthorize(t, authorizeParams(memo, challenge, { scope: 'openid', state: 'again' }), user);
      expect(res.status).toBe(303);
      expect(locationParams(res).params).toEqual({ code: expect.any(String), state: 'again', iss: t.url });
    });

    it('answers prompt=none with a code once consent is remembered', async () => {
      const res = await getAuthorize(t, authorizeParams(memo, challenge, { prompt: 'none' }), user);
      expect(locationParams(res).params.code).toEqual(expect.any(String));
    });

    it('shows the page again for prompt=consent', async () => {
      expect((await getAuthorize(t, authorizeParams(memo, challenge, { prompt: 'consent' }), user)).status).toBe(200);
    });

    it('asks again for a scope not yet granted, and then remembers the union', async () => {
      expect((await getAuthorize(t, authorizeParams(memo, challenge, { scope: 'email' }), user)).status).toBe(200);
      await authorizeAndConsent(t, memo, user, { scope: 'email' });
      const rows = await sql<{ scopes: string[] }>(t, `SELECT g.scopes FROM grants g JOIN apps a ON a.id = g.app_id WHERE a.client_id = $1`, [memo.clientId]);
      expect(rows).toEqual([{ scopes: ['email', 'openid', 'profile'] }]);
      expect((await getAuthorize(t, authorizeParams(memo, challenge, { scope: 'openid email profile' }), user)).status).toBe(303);
    });

    it('does not share one user’s consent with another', async () => {
      expect((await getAuthorize(t, authorizeParams(memo, challenge), admin)).status).toBe(200);
    });
  });

  describe('the admin scope', () => {
    it('is not granted to a user without the admin role', async () => {
      const adminScoped = await createApp(t, admin, { name: 'adm', scope: 'openid admin', redirect_uris: ['https://adm.example.com/cb'] });
      const { code } = await authorizeAndConsent(t, adminScoped, user, { scope: 'openid admin' });
      const rows = await sql<{ scopes: string[] }>(t, 'SELECT scopes FROM authorization_codes WHERE code_hash = $1', [createHash('sha256').update(code).digest('hex')]);
      expect(rows).toEqual([{ scopes: ['openid'] }]);
    });
  });

  describe('no open redirect', () => {
    it.each([
      ['%0d%0aLocation: https://evil.example', 'https://app.example.com/callback%0d%0aLocation:%20https://evil.example'],
      ['backslashes', 'https://app.example.com\\@evil.example/callback'],
      ['a tab', 'https://app.example.com/call\tback'],
      ['percent-encoded host', 'https://%65vil.example/callback'],
      ['unicode dots', 'https://app。example。com/callback'],
    ])('never redirects to a malformed redirect_uri (%s)', async (_name, redirectUri) => {
      const res = await request(t.url).get(`/oauth2/authorize?${query(authorizeParams(app, challenge))}`.replace(encodeURIComponent(app.redirectUri), redirectUri))
        .set('Cookie', user).redirects(0);
      expect(res.headers.location ?? '').not.toMatch(/evil/);
      expect(res.headers.location === undefined || res.headers.location.startsWith(app.redirectUri)).toBe(true);
    });
  });
});

describe('PKCE optional for confidential clients when OAUTH2_REQUIRE_PKCE=false', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await bootApp({ env: { OAUTH2_REQUIRE_PKCE: 'false' } });
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  it('lets a confidential client go without PKCE', async () => {
    const app = await createApp(t, admin, { name: 'conf' });
    const res = await getAuthorize(t, authorizeParams(app, '', { code_challenge: undefined, code_challenge_method: undefined }), admin);
    expect(res.status).toBe(200);
  });

  it('still requires PKCE from a public client', async () => {
    const app = await createApp(t, admin, { name: 'pub', token_endpoint_auth_method: 'none' });
    const res = await getAuthorize(t, authorizeParams(app, '', { code_challenge: undefined, code_challenge_method: undefined, state: 'p' }), admin);
    expect(locationParams(res).params).toMatchObject({ error: 'invalid_request', state: 'p', iss: t.url });
  });

  it('still refuses plain', async () => {
    const app = await createApp(t, admin, { name: 'conf2' });
    const res = await getAuthorize(t, authorizeParams(app, 'a'.repeat(43), { code_challenge_method: 'plain' }), admin);
    expect(locationParams(res).params.error).toBe('invalid_request');
  });
});

describe('POST /api/v1/oauth2/authorize (JSON, for single-page consent UIs)', () => {
  let t: TestApp;
  let admin: string;
  let app: RegisteredApp;
  const { challenge } = pkce();
  const body = (extra: Record<string, unknown> = {}) => ({
    client_id: app.clientId,
    redirect_uri: app.redirectUri,
    response_type: 'code',
    scope: ['openid', 'profile'],
    state: 'json-state',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });

  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
    app = await createApp(t, admin, { name: 'json-app' });
  });
  afterAll(() => t.close());

  it('answers 200 {redirect_uri} holding the code, state and iss', async () => {
    const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Cookie', admin).send(body());
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['redirect_uri']);
    const url = new URL(res.body.redirect_uri);
    expect(`${url.origin}${url.pathname}`).toBe(app.redirectUri);
    expect(Object.fromEntries(url.searchParams)).toEqual({ code: expect.any(String), state: 'json-state', iss: t.url });
  });

  it('records the grant, so the browser flow needs no consent afterwards', async () => {
    const res = await getAuthorize(t, authorizeParams(app, challenge), admin);
    expect(res.status).toBe(303);
  });

  it.each([
    ['an unknown client', { client_id: 'nope' }],
    ['an unregistered redirect_uri', { redirect_uri: 'https://evil.example/cb' }],
    ['an unknown scope', { scope: ['openid', 'nonsense'] }],
    ['no PKCE', { code_challenge: undefined, code_challenge_method: undefined }],
    ['response_type token', { response_type: 'token' }],
  ])('answers %s with 400 problem+json', async (_name, extra) => {
    const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Cookie', admin).send(body(extra));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(JSON.parse(res.text)).toMatchObject({ status: 400, title: expect.any(String), request_id: expect.any(String) });
  });

  it('answers a scope string instead of an array with validation_error', async () => {
    const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Cookie', admin).send(body({ scope: 'openid profile' }));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ type: 'validation_error', invalid_fields: [expect.objectContaining({ name: 'scope', pointer: '/scope' })] });
  });

  it('needs a caller', async () => {
    const res = await request(t.url).post('/api/v1/oauth2/authorize').send(body());
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('refuses a service account, which is no user', async () => {
    const { token } = await createServiceAccount(t, admin, 'json-sa', 'admin');
    const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Authorization', `Bearer ${token}`).send(body());
    expect(res.status).toBe(403);
  });
});
