/**
 * The OAuth flows the bench runs over HTTP, the same way against both authorization servers: the browser side of
 * the first authorization (sign-in, consent), and pre-minting codes and refresh tokens for the consuming
 * workloads through the real authorize and token endpoints.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CookieJar, codeOf, expectStatus, FORM, inParallel } from './http';

export const SCOPE = 'openid profile offline_access';

/** What the bench knows about one authorization server once it is set up. */
export interface AuthServer {
  readonly name: 'portcullis' | 'oidc-provider';
  readonly pid: number;
  readonly base: string;
  readonly endpoints: Endpoints;
  /** The confidential client: `Authorization: Basic …`. */
  readonly basic: string;
  readonly redirectUri: string;
  /** A signed-in browser session whose consent for `authorizeUrl` is remembered. */
  readonly cookie: string;
  /** One fixed authorization request (PKCE S256 over `verifier`): every use of it mints a fresh code. */
  readonly authorizeUrl: string;
  readonly verifier: string;
  /** The access token for userinfo and introspection (a JWT from Portcullis, an opaque one from oidc-provider). */
  readonly userinfoToken: string;
  /** The client that introspects `userinfoToken` (the one it was issued to). */
  readonly introspectBasic: string;
}

export interface Endpoints {
  readonly discovery: string;
  readonly jwks: string;
  readonly authorize: string;
  readonly token: string;
  readonly userinfo: string;
  readonly introspect: string;
  readonly revoke: string;
  readonly register: string;
}

export interface TokenResponse {
  readonly access_token: string;
  readonly refresh_token?: string;
  readonly id_token?: string;
  readonly scope?: string;
  readonly expires_in: number;
}

/** The endpoints, as the server's own discovery document names them. */
export async function discover(base: string): Promise<Endpoints> {
  const discovery = `${base}/.well-known/openid-configuration`;
  const res = await expectStatus(await fetch(discovery), [200], `GET ${discovery}`);
  const m = (await res.json()) as Record<string, string>;
  const need = (field: string) => {
    if (!m[field]) throw new Error(`${discovery} has no ${field}`);
    return m[field];
  };
  return {
    discovery,
    jwks: need('jwks_uri'),
    authorize: need('authorization_endpoint'),
    token: need('token_endpoint'),
    userinfo: need('userinfo_endpoint'),
    introspect: need('introspection_endpoint'),
    revoke: need('revocation_endpoint'),
    register: need('registration_endpoint'),
  };
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(endpoint: string, clientId: string, redirectUri: string, challenge: string): string {
  const params = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: SCOPE,
    state: 'bench-state', code_challenge: challenge, code_challenge_method: 'S256',
  });
  return `${endpoint}?${params}`;
}

/**
 * Plays the browser through one authorization: follows redirects (sign-in and consent interactions included),
 * answers a consent page with Allow, and returns the code from the redirect back to the client.
 */
export async function browserAuthorize(url: string, jar: CookieJar, redirectUri: string): Promise<string> {
  let next: { url: string; init?: RequestInit } = { url };
  for (let step = 0; step < 10; step++) {
    const res = await fetch(next.url, { ...next.init, redirect: 'manual', headers: { ...next.init?.headers, cookie: jar.header() } });
    jar.take(res);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const target = new URL(location, next.url).href;
      if (target.startsWith(redirectUri)) {
        const code = codeOf(target);
        if (!code) throw new Error(`authorization answered without a code: ${location}`);
        return code;
      }
      next = { url: target };
      continue;
    }
    const html = await res.text();
    if (res.status === 200 && html.includes('name="decision"')) {
      next = { url: formAction(html, next.url), init: { method: 'POST', headers: { 'content-type': FORM }, body: consentBody(html) } };
      continue;
    }
    throw new Error(`authorization at ${next.url}: HTTP ${res.status} ${html.slice(0, 300)}`);
  }
  throw new Error(`authorization from ${url} did not come back after 10 steps`);
}

/** Portcullis's consent form: its hidden fields (the request and the CSRF token) and decision=allow. */
export function consentBody(html: string): string {
  const body = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) body.append(m[1], unescapeHtml(m[2]));
  body.set('decision', 'allow');
  return body.toString();
}

export function formAction(html: string, pageUrl: string): string {
  const action = /<form[^>]*action="([^"]*)"/.exec(html)?.[1];
  return new URL(action ? unescapeHtml(action) : pageUrl, pageUrl).href;
}

function unescapeHtml(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')
    .replace(/&#x3D;/g, '=').replace(/&#x60;/g, '`').replace(/&amp;/g, '&');
}

/** One authorize with the remembered consent: the server redirects straight back with a code. */
export async function mintCode(server: Pick<AuthServer, 'name' | 'authorizeUrl' | 'cookie'>): Promise<string> {
  const res = await fetch(server.authorizeUrl, { redirect: 'manual', headers: { cookie: server.cookie } });
  const code = codeOf(res.headers.get('location'));
  if (!code) throw new Error(`${server.name}: authorize did not redirect with a code: HTTP ${res.status} ${res.headers.get('location') ?? (await res.text()).slice(0, 300)}`);
  return code;
}

export function codeExchangeBody(server: Pick<AuthServer, 'redirectUri' | 'verifier'>, code: string): string {
  return new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: server.redirectUri, code_verifier: server.verifier }).toString();
}

export async function exchangeCode(server: Pick<AuthServer, 'name' | 'endpoints' | 'redirectUri' | 'verifier'>, basic: string, code: string): Promise<TokenResponse> {
  const res = await fetch(server.endpoints.token, {
    method: 'POST', headers: { 'content-type': FORM, authorization: basic }, body: codeExchangeBody(server, code),
  });
  await expectStatus(res, [200], `${server.name}: code exchange`);
  return res.json() as Promise<TokenResponse>;
}

/** Minting runs outside the timed window, 16 requests at a time. */
const MINT_CONCURRENCY = 16;

export function mintCodes(server: AuthServer, count: number): Promise<string[]> {
  return inParallel(count, MINT_CONCURRENCY, () => mintCode(server));
}

/** Refresh tokens of independent families: each from its own code. */
export function mintRefreshTokens(server: AuthServer, count: number): Promise<string[]> {
  return inParallel(count, MINT_CONCURRENCY, async () => {
    const tokens = await exchangeCode(server, server.basic, await mintCode(server));
    if (!tokens.refresh_token) throw new Error(`${server.name}: the code exchange issued no refresh token`);
    return tokens.refresh_token;
  });
}
