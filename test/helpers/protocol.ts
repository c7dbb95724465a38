import request from 'supertest';
import { TestApp } from './app';
import { basic, RegisteredApp } from './clients';
import { authorizeAndConsent, locationParams, Params } from './oauth';

/**
 * The protocol requests the security rules and the token-lifecycle tests need (test/security, test/grants,
 * test/authorize), written once so that each test reads as the rule it checks.
 */

export type Body = Record<string, string | undefined>;

export interface Tokens {
  readonly access_token: string;
  readonly refresh_token?: string;
  readonly id_token?: string;
  readonly scope: string;
  readonly expires_in: number;
}

/** A request to a client-authenticated endpoint: HTTP Basic for a confidential client, `client_id` in the body for a public one. */
export function clientPost(t: TestApp, path: string, client: RegisteredApp, body: Body): request.Test {
  const req = request(t.url).post(path).type('form');
  return client.clientSecret ? req.set('Authorization', basic(client.clientId, client.clientSecret)).send(body) : req.send({ client_id: client.clientId, ...body });
}

export const tokenRequest = (t: TestApp, client: RegisteredApp, body: Body) => clientPost(t, '/oauth2/token', client, body);

export const exchange = (t: TestApp, client: RegisteredApp, code: string, verifier: string | undefined, extra: Body = {}) =>
  tokenRequest(t, client, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: client.redirectUri, ...extra });

export const refresh = (t: TestApp, client: RegisteredApp, refreshToken: string, extra: Body = {}) =>
  tokenRequest(t, client, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });

export const revoke = (t: TestApp, client: RegisteredApp, token: string) => clientPost(t, '/oauth2/revoke', client, { token });

/** Introspection by a confidential client: any of them may ask about an access token; a refresh token only its owner. */
export const introspect = (t: TestApp, client: RegisteredApp, token: string) => clientPost(t, '/oauth2/introspect', client, { token });

export const userinfo = (t: TestApp, accessToken: string) => request(t.url).get('/oauth2/userinfo').set('Authorization', `Bearer ${accessToken}`);

/** The caller's own grants: 200 for a live credential, 401 for a dead one. */
export const myAuthorizations = (t: TestApp, credential: { cookie: string } | { bearer: string }) => {
  const req = request(t.url).get('/api/v0/users/me/oauth2/authorizations');
  return 'cookie' in credential ? req.set('Cookie', credential.cookie) : req.set('Authorization', `Bearer ${credential.bearer}`);
};

export const principalToken = (t: TestApp, credential: { cookie: string } | { bearer: string }) => {
  const req = request(t.url).get('/api/v1/oauth2/principal-token');
  return 'cookie' in credential ? req.set('Cookie', credential.cookie) : req.set('Authorization', `Bearer ${credential.bearer}`);
};

/** Asks for `offline_access` too, so that an app registered for refresh tokens gets one (SPEC §4, OIDC Core §11). */
export const WITH_REFRESH: Params = { scope: 'openid profile offline_access' };

/** The whole flow for `client` as the signed-in user: authorize, consent, code exchange (by default with WITH_REFRESH). */
export async function issueTokens(t: TestApp, client: RegisteredApp, cookie: string, extra: Params = {}): Promise<Tokens> {
  const { code, verifier } = await authorizeAndConsent(t, client, cookie, { ...WITH_REFRESH, ...extra });
  const res = await exchange(t, client, code, verifier);
  if (res.status !== 200) throw new Error(`code exchange failed: ${res.status} ${res.text}`);
  return res.body as Tokens;
}

/** Uses a refresh token once; answers the new tokens. */
export async function rotate(t: TestApp, client: RegisteredApp, refreshToken: string): Promise<Tokens> {
  const res = await refresh(t, client, refreshToken);
  if (res.status !== 200) throw new Error(`refresh failed: ${res.status} ${res.text}`);
  return res.body as Tokens;
}

/** Dynamic client registration (RFC 7591) of a confidential web client unless the metadata says otherwise. */
export async function registerApp(t: TestApp, metadata: Record<string, unknown> = {}): Promise<RegisteredApp> {
  const res = await request(t.url).post('/oauth2/register').send({ client_name: 'Self-registered', redirect_uris: ['https://self.example.net/cb'], ...metadata });
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${res.text}`);
  return { id: res.body.client_id, clientId: res.body.client_id, clientSecret: res.body.client_secret, redirectUri: res.body.redirect_uris[0] };
}

/** The grant id of `client` among the signed-in user's authorizations. */
export async function grantIdOf(t: TestApp, cookie: string, client: RegisteredApp): Promise<string> {
  const res = await myAuthorizations(t, { cookie });
  const grant = (res.body.items as { grant_id: string; app_client_id: string }[]).find((g) => g.app_client_id === client.clientId);
  if (!grant) throw new Error(`no grant for ${client.clientId}: ${res.status} ${res.text}`);
  return grant.grant_id;
}

/** The CSRF token bound to a browser session, as the home page renders it for the logout form. */
export async function sessionCsrf(t: TestApp, cookie: string): Promise<string> {
  const home = await request(t.url).get('/').set('Cookie', cookie);
  const token = /name="csrf_token" value="([^"]+)"/.exec(home.text)?.[1];
  if (!token) throw new Error(`no CSRF token on the home page (${home.status})`);
  return token;
}

/** A 4xx error page: HTML, and above all no redirect anywhere. */
export function expectErrorPage(res: request.Response, status = 400): void {
  expect({ status: res.status, location: res.headers.location }).toEqual({ status, location: undefined });
  expect(res.headers['content-type']).toMatch(/^text\/html/);
}

/** RFC 6749 §4.1.2.1 with RFC 9207: a 303 back to the client with error, error_description, state and iss. */
export function expectErrorRedirect(res: request.Response, client: RegisteredApp, error: string, state: string, issuer: string): void {
  expect(res.status).toBe(303);
  const { base, params } = locationParams(res);
  expect(base).toBe(client.redirectUri);
  expect(params).toEqual({ error, error_description: expect.any(String), state, iss: issuer });
}

/** RFC 6749 §5.2: exactly `{error, error_description}`. */
export const oauthError = (code: string) => ({ error: code, error_description: expect.any(String) });

/** An RFC 7807 body of an `/api` route (SPEC §2). */
export function expectProblemBody(res: request.Response, status: number, type: string | RegExp): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  const body = JSON.parse(res.text) as Record<string, unknown>;
  expect(body).toMatchObject({ type: typeof type === 'string' ? type : expect.stringMatching(type), title: expect.stringMatching(/\S/), status, request_id: res.headers['x-request-id'] });
}

/** What the app logged while `fn` ran. */
export async function logsDuring(t: TestApp, fn: () => Promise<unknown>): Promise<string> {
  const start = t.logs.lines.length;
  await fn();
  return t.logs.lines.slice(start).join('');
}

/** Polls every 50 ms until `done(value)` or `giveUpMs` passed; answers the last value and the time it took. */
export async function pollUntil<T>(probe: () => Promise<T>, done: (value: T) => boolean, giveUpMs = 15_000): Promise<{ value: T; elapsed: number }> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    const elapsed = Date.now() - started;
    if (done(value) || elapsed > giveUpMs) return { value, elapsed };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
