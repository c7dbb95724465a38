import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { createServiceAccount, signIn } from '../helpers/identity';
import { concrete, expressRoutes, key, nestRoutes, Route, send } from '../helpers/routes';

/**
 * Default deny (STYLE "Tests", SPEC §2): every route the running app answers needs a caller, except the few marked
 * @Public. The inventory comes from Express itself, so a route added by any means is walked; a new /api route
 * without protection fails here.
 */

/** The routes marked @Public, as `METHOD /path`. A new public route must be added here on purpose. */
const PUBLIC_ROUTES = [
  'GET /', 'GET /healthz', 'GET /readyz', 'GET /login', 'POST /login', 'POST /logout',
  // Prometheus scrapes carry no credential; METRICS_PORT or the load balancer keeps it private (README).
  'GET /metrics',
  // OAuth protocol endpoints: clients authenticate by the protocol's own means (RFC 6749 §2.3, RFC 7591 §3).
  'GET /.well-known/oauth-authorization-server', 'GET /.well-known/openid-configuration',
  'GET /.well-known/oauth-protected-resource', 'GET /.well-known/oauth-protected-resource/*issuerPath',
  'GET /.well-known/oauth-authorization-server/*issuerPath', 'GET /.well-known/openid-configuration/*issuerPath',
  'GET /*issuerPath/.well-known/oauth-authorization-server', 'GET /*issuerPath/.well-known/openid-configuration',
  'GET /oauth2/scopes', 'POST /oauth2/register', 'POST /oauth2/token',
  // The authorization endpoint checks the browser session itself: without one it sends the user to sign in.
  'GET /oauth2/authorize', 'POST /oauth2/authorize',
  // The connected-apps page checks the browser session itself and sends a visitor to sign in.
  'GET /account/apps', 'GET /account/apps/:grantId/revoke', 'POST /account/apps/:grantId/revoke',
  'GET /oauth2/jwks', 'POST /oauth2/revoke', 'POST /oauth2/introspect', 'GET /oauth2/userinfo', 'POST /oauth2/userinfo',
];

/** Public to users, but the OAuth client must authenticate (RFC 6749 §2.3): 401 invalid_client without it. */
const CLIENT_AUTHENTICATED = ['POST /oauth2/token', 'POST /oauth2/revoke', 'POST /oauth2/introspect'];

/** Protocol endpoints that take this server's access token themselves (RFC 6750), answering in the OAuth format. */
const BEARER_PROTOCOL = ['GET /oauth2/userinfo', 'POST /oauth2/userinfo'];

/** What went wrong on one route, or undefined when it refused the caller with 401 and a Bearer challenge. */
function refusal(route: Route, res: request.Response): string | undefined {
  const challenge = res.headers['www-authenticate'];
  if (res.status !== 401) return `${key(route)}: ${res.status} instead of 401`;
  if (typeof challenge !== 'string' || !challenge.startsWith('Bearer')) return `${key(route)}: WWW-Authenticate is ${String(challenge)}`;
  if (route.path.startsWith('/api/')) {
    if (res.headers['content-type'] !== 'application/problem+json; charset=utf-8') return `${key(route)}: Content-Type ${res.headers['content-type']}`;
    const body = JSON.parse(res.text) as Record<string, unknown>;
    const expected = { type: 'unauthorised', title: body.title, status: 401, request_id: res.headers['x-request-id'] };
    if (typeof body.title !== 'string' || !isDeepStrictEqual(body, expected)) return `${key(route)}: body ${res.text}`;
  }
  return undefined;
}

describe('route inventory', () => {
  let t: TestApp;
  let express: ReturnType<typeof expressRoutes>;
  let nest: ReturnType<typeof nestRoutes>;
  let protectedRoutes: Route[];

  beforeAll(async () => {
    t = await bootApp();
    express = expressRoutes(t);
    nest = nestRoutes(t);
    const publicKeys = new Set(nest.filter((r) => r.isPublic).map(key));
    protectedRoutes = express.routes.filter((r) => !publicKeys.has(key(r)));
  });
  afterAll(() => t.close());

  it('finds the routes through the Express router', () => {
    expect(express.routes.map(key)).toEqual(expect.arrayContaining(['GET /healthz', 'POST /api/v1/users', 'POST /api/v1/service-accounts/:id/revoke']));
  });

  it('knows every Express route as a Nest controller route, and every controller route is mounted', () => {
    expect([...express.routes.map(key)].sort()).toEqual(nest.map(key).sort());
  });

  it('has exactly the allow-listed public routes, as the @Public metadata says', () => {
    expect(nest.filter((r) => r.isPublic).map(key).sort()).toEqual([...PUBLIC_ROUTES].sort());
  });

  it('has no public route under /api', () => {
    expect(nest.filter((r) => r.isPublic && r.path.startsWith('/api/')).map(key)).toEqual([]);
  });

  it('protects every admin route', () => {
    const admin = protectedRoutes.filter((r) => /^\/api\/v1\/(users|orgs|service-accounts|audit-events)(\/|$)/.test(r.path));
    expect(admin).toHaveLength(17);
    expect(protectedRoutes.map(key)).toEqual(expect.arrayContaining(['GET /api/v1/audit-events', 'GET /api/v0/users/me/audit-events']));
  });

  it('refuses every protected route without credentials: 401 with a Bearer challenge', async () => {
    const failures: string[] = [];
    for (const route of protectedRoutes) {
      const problem = refusal(route, await send(t, route));
      if (problem) failures.push(problem);
    }
    expect(failures).toEqual([]);
  });

  it('refuses every protected route with an unknown bearer token: 401 with a Bearer challenge', async () => {
    const failures: string[] = [];
    for (const route of protectedRoutes) {
      const problem = refusal(route, await send(t, route).set('Authorization', `Bearer pcsa_${randomUUID()}`));
      if (problem) failures.push(problem);
    }
    expect(failures).toEqual([]);
  });

  it('never takes a valid token from the query string (SPEC §2)', async () => {
    const { token } = await createServiceAccount(t, await signIn(t), 'inventory-query-token', 'admin');
    const failures: string[] = [];
    for (const route of protectedRoutes) {
      const problem = refusal(route, await send(t, route, `${concrete(route.path)}?access_token=${encodeURIComponent(token)}`));
      if (problem) failures.push(problem);
    }
    expect(failures).toEqual([]);
  });

  it('lets every public route through without credentials', async () => {
    const failures: string[] = [];
    for (const route of express.routes.filter((r) => PUBLIC_ROUTES.includes(key(r)) && ![...CLIENT_AUTHENTICATED, ...BEARER_PROTOCOL].includes(key(r)))) {
      const res = await send(t, route);
      if (res.status === 401 || res.headers['www-authenticate'] !== undefined) failures.push(`${key(route)}: ${res.status}`);
    }
    expect(failures).toEqual([]);
  });

  it('asks for a bearer token on userinfo (RFC 6750 §3)', async () => {
    for (const route of BEARER_PROTOCOL) {
      const [method, path] = route.split(' ');
      const res = await send(t, { method, path });
      expect([route, res.status, res.headers['www-authenticate']]).toEqual([route, 401, expect.stringMatching(/^Bearer/)]);
    }
  });

  it('asks for OAuth client authentication, not a user, on the client-authenticated endpoints', async () => {
    for (const path of CLIENT_AUTHENTICATED) {
      const res = await send(t, { method: 'POST', path: path.replace(/^POST /, '') });
      expect([path, res.status, res.body]).toEqual([path, 401, { error: 'invalid_client', error_description: expect.any(String) }]);
    }
  });

  it('serves the Swagger UI and document without credentials (SPEC §2: /docs is public)', async () => {
    expect(express.swagger.map(key)).toEqual(expect.arrayContaining(['GET /docs', 'GET /docs/openapi.json']));
    const res = await request(t.url).get('/docs/openapi.json');
    expect(res.status).toBe(200);
  });
});
