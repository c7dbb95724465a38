import { createHash, randomBytes } from 'node:crypto';
import request from 'supertest';
import { TestApp } from './app';
import { RegisteredApp } from './clients';

export interface Pkce {
  readonly verifier: string;
  readonly challenge: string;
}

/** RFC 7636 S256: a 43-character verifier and BASE64URL(SHA256(verifier)). */
export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export type Params = Record<string, string | string[] | undefined>;

export function query(params: Params): string {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) for (const v of ([] as (string | undefined)[]).concat(value)) if (v !== undefined) q.append(name, v);
  return q.toString();
}

/** The usual authorization request of a test: code flow with PKCE and a state. */
export function authorizeParams(app: RegisteredApp, challenge: string, extra: Params = {}): Params {
  return {
    response_type: 'code',
    client_id: app.clientId,
    redirect_uri: app.redirectUri,
    scope: 'openid profile',
    state: 'state-' + randomBytes(6).toString('hex'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
}

export function getAuthorize(t: TestApp, params: Params, cookie?: string): request.Test {
  const req = request(t.url).get(`/oauth2/authorize?${query(params)}`).redirects(0);
  return cookie ? req.set('Cookie', cookie) : req;
}

/** The hidden fields and CSRF token of a rendered consent page. */
export function consentForm(html: string): Record<string, string[]> {
  const fields: Record<string, string[]> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    const value = match[2].replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#x3D;/g, '=').replace(/&#x60;/g, '`');
    (fields[match[1]] ??= []).push(value);
  }
  return fields;
}

export function postDecision(t: TestApp, cookie: string, fields: Record<string, string[]>, decision: Params): request.Test {
  return request(t.url).post('/oauth2/authorize').redirects(0).set('Cookie', cookie).type('form').send(query({ ...fields, ...decision }));
}

/** The query parameters of a redirect's Location. */
export function locationParams(res: request.Response): { base: string; params: Record<string, string> } {
  const location = res.headers.location as string;
  const url = new URL(location, 'http://relative.invalid');
  return { base: location.split('?')[0], params: Object.fromEntries(url.searchParams) };
}

export interface Authorized {
  readonly code: string;
  readonly verifier: string;
  readonly state: string;
  readonly params: Params;
}

/** Runs the browser side of the flow over HTTP: authorize, consent (Allow), and the redirect with the code. */
export async function authorizeAndConsent(t: TestApp, app: RegisteredApp, cookie: string, extra: Params = {}): Promise<Authorized> {
  const { verifier, challenge } = pkce();
  const params = authorizeParams(app, challenge, extra);
  const page = await getAuthorize(t, params, cookie);
  let location: request.Response = page;
  if (page.status === 200) {
    location = await postDecision(t, cookie, consentForm(page.text), { decision: 'allow' });
  }
  if (location.status !== 303) throw new Error(`authorization did not redirect: ${location.status} ${location.text.slice(0, 300)}`);
  const { params: answer } = locationParams(location);
  if (!answer.code) throw new Error(`no code in ${location.headers.location}`);
  return { code: answer.code, verifier, state: answer.state, params };
}
