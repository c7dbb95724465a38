import request from 'supertest';
import { TestApp } from './app';

export interface RegisteredApp {
  readonly id: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly redirectUri: string;
}

/** Registers an app through the admin API (provenance `api`). */
export async function createApp(
  t: TestApp,
  adminCookie: string,
  metadata: Record<string, unknown> = {},
): Promise<RegisteredApp> {
  const redirectUri = (metadata.redirect_uris as string[] | undefined)?.[0] ?? 'https://app.example.com/callback';
  const res = await request(t.url).post('/api/v1/oauth2/apps').set('Cookie', adminCookie)
    .send({ name: 'test-app', redirect_uris: [redirectUri], ...metadata });
  if (res.status !== 201) throw new Error(`creating an app failed: ${res.status} ${res.text}`);
  return { id: res.body.id, clientId: res.body.client_id, clientSecret: res.body.client_secret, redirectUri };
}

/** HTTP Basic per RFC 6749 §2.3.1: each part form-url-encoded, then joined by ':' and base64-encoded. */
export function basic(clientId: string, secret: string): string {
  const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

/** A client_credentials request authenticated with HTTP Basic: the cheapest way to try a secret. */
export function tokenWithBasic(t: TestApp, clientId: string, secret: string): request.Test {
  return request(t.url).post('/oauth2/token').type('form').set('Authorization', basic(clientId, secret)).send({ grant_type: 'client_credentials' });
}

/** Got past client authentication: whatever the grant answers, it is not 401 invalid_client. */
export function expectAuthenticated(res: request.Response): void {
  expect(res.status).not.toBe(401);
  expect(res.body.error).not.toBe('invalid_client');
}

export function expectInvalidClient(res: request.Response): void {
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
  expect(res.headers['www-authenticate']).toMatch(/^Basic/);
}
