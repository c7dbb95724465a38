import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { API_SCOPES } from '../../src/identity/auth/auth.decorators';
import { bootApp, TestApp } from '../helpers/app';
import { createApp, RegisteredApp } from '../helpers/clients';
import { createServiceAccount, createUser, signIn } from '../helpers/identity';
import { authorizeAndConsent } from '../helpers/oauth';
import { ProbeModule } from '../helpers/probe.module';
import { exchange, revoke, sessionCsrf, userinfo } from '../helpers/protocol';
import { expressRoutes, key, nestRoutes, NestRoute, Route, send } from '../helpers/routes';
import { runExternal } from '../external/run-external';

/**
 * `/api` is a protected resource of its own (issue 14, item 4): RFC 9728 metadata at the well-known URL of its
 * identifier — the issuer, the audience of tokens asked for no resource — and on every 401 a Bearer challenge
 * (RFC 6750 §3) naming that metadata (RFC 9728 §5.1), so a client that knows only an API URL finds the
 * authorization server and the scopes; a missing scope is 403 insufficient_scope naming it, for step-up.
 */

const PRM = '/.well-known/oauth-protected-resource';

interface ResourceDiscovery {
  ok: boolean;
  error?: string;
  challenges?: { scheme: string; parameters: Record<string, string> }[];
  metadataUrl?: string;
  metadata?: Record<string, unknown>;
  issuer?: string;
}

/**
 * The /api routes of the running app, as Express dispatches them, with their access rules. None of the app's own
 * is public (test/identity/route-inventory); the test probes are left out.
 */
function apiRoutes(t: TestApp): NestRoute[] {
  const rules = new Map(nestRoutes(t).map((r) => [key(r), r]));
  return expressRoutes(t).routes.filter((r) => r.path.startsWith('/api/')).map((r) => rules.get(key(r))!).filter((r) => !r.isPublic);
}

/** What is wrong with one answer, or undefined when it is a 401 problem with exactly the expected challenge. */
function wrongChallenge(route: Route, res: request.Response, expected: string): string | undefined {
  if (res.status !== 401) return `${key(route)}: ${res.status} instead of 401`;
  if (res.headers['content-type'] !== 'application/problem+json; charset=utf-8') return `${key(route)}: Content-Type ${res.headers['content-type']}`;
  if (res.headers['www-authenticate'] !== expected) return `${key(route)}: WWW-Authenticate ${String(res.headers['www-authenticate'])}`;
  return undefined;
}

async function walk(t: TestApp, routes: Route[], check: (route: Route, res: request.Response) => string | undefined, bearer?: string): Promise<string[]> {
  const failures: string[] = [];
  for (const route of routes) {
    const req = send(t, route);
    const problem = check(route, await (bearer === undefined ? req : req.set('Authorization', `Bearer ${bearer}`)));
    if (problem) failures.push(problem);
  }
  return failures;
}

describe('the API as a protected resource (RFC 9728, RFC 6750 §3)', () => {
  describe('an issuer without a path', () => {
    let t: TestApp;
    let admin: string;
    let adminConsole: RegisteredApp;
    let metadataUrl: string;
    let bare: string;
    let invalidToken: string;

    /** An access token of the bootstrap admin, with these scopes, through the code flow. */
    async function accessToken(scope: string, extra: Record<string, string> = {}): Promise<string> {
      const { code, verifier } = await authorizeAndConsent(t, adminConsole, admin, { scope, ...extra });
      const res = await exchange(t, adminConsole, code, verifier, extra);
      if (res.status !== 200) throw new Error(`exchange failed: ${res.status} ${res.text}`);
      return res.body.access_token as string;
    }

    beforeAll(async () => {
      t = await bootApp({ extraModules: [ProbeModule] });
      admin = await signIn(t);
      adminConsole = await createApp(t, admin, { name: 'admin-console', scope: 'openid profile account admin' });
      metadataUrl = `${t.url}${PRM}`;
      bare = `Bearer realm="portcullis", resource_metadata="${metadataUrl}"`;
      invalidToken = `Bearer realm="portcullis", error="invalid_token", error_description="The bearer token is not valid", resource_metadata="${metadataUrl}"`;
    });
    afterAll(() => t.close());

    it('serves the metadata of the API at the plain well-known URL', async () => {
      const res = await request(t.url).get(PRM);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.body).toEqual({
        resource: t.url,
        authorization_servers: [t.url],
        scopes_supported: ['account', 'admin'],
        bearer_methods_supported: ['header'],
        resource_name: 'Portcullis API',
        resource_documentation: `${t.url}/docs`,
        tls_client_certificate_bound_access_tokens: false,
        dpop_bound_access_tokens_required: false,
      });
    });

    it('names as its resource exactly the issuer that the authorization server metadata names', async () => {
      const prm = (await request(t.url).get(PRM)).body;
      const as = (await request(t.url).get('/.well-known/oauth-authorization-server')).body;
      expect([prm.resource, prm.authorization_servers]).toEqual([as.issuer, [as.issuer]]);
    });

    it('advertises exactly the scopes the API routes demand of an access token', () => {
      const demanded = new Set(apiRoutes(t).map((r) => r.rule.scope).filter((s) => s !== undefined));
      expect([...demanded].sort()).toEqual([...API_SCOPES].sort());
    });

    it('is served prebuilt, cached like discovery and revalidated by its ETag', async () => {
      const res = await request(t.url).get(PRM);
      expect(res.headers['cache-control']).toBe('public, max-age=300');
      expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.text)));
      const etag = res.headers['etag'];
      expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      const again = await request(t.url).get(PRM).set('If-None-Match', etag);
      expect([again.status, again.text]).toEqual([304, '']);
    });

    it('answers another spelling through the regular route with the same document', async () => {
      const prebuilt = await request(t.url).get(PRM);
      const routed = await request(t.url).get(`${PRM}?x=1`);
      expect([routed.status, routed.headers['cache-control'], routed.body]).toEqual([200, 'public, max-age=300', prebuilt.body]);
    });

    it('answers cross-origin requests (browser-based clients such as the MCP Inspector)', async () => {
      const res = await request(t.url).get(PRM).set('Origin', 'https://inspector.example');
      expect(res.headers['access-control-allow-origin']).toBe('*');
      const preflight = await request(t.url).options(PRM).set('Origin', 'https://inspector.example').set('Access-Control-Request-Method', 'GET');
      expect([preflight.status, preflight.headers['access-control-allow-origin']]).toEqual([204, '*']);
    });

    it('answers JSON 404 for the metadata of a resource at another path', async () => {
      const res = await request(t.url).get(`${PRM}/other`);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/json/);
    });

    it('is found and accepted by oauth4webapi from nothing but an API URL', async () => {
      const result = await runExternal<ResourceDiscovery>('oauth4webapi-resource-discovery.mjs', [`${t.url}/api/v1/users`, t.url]);
      expect(result).toMatchObject({ ok: true, metadataUrl, issuer: t.url });
      expect(result.challenges).toEqual([{ scheme: 'bearer', parameters: { realm: 'portcullis', error: 'invalid_token', error_description: 'The bearer token is not valid', resource_metadata: metadataUrl } }]);
    });

    it('challenges a caller without credentials on every API route: realm and resource_metadata, no error code', async () => {
      expect(await walk(t, apiRoutes(t), (route, res) => wrongChallenge(route, res, bare))).toEqual([]);
    });

    it('challenges an unknown bearer token on every API route with invalid_token', async () => {
      expect(await walk(t, apiRoutes(t), (route, res) => wrongChallenge(route, res, invalidToken), `pcsa_${randomUUID()}`)).toEqual([]);
    });

    it('challenges a revoked access token on every API route with invalid_token', async () => {
      const token = await accessToken('openid account admin');
      expect((await revoke(t, adminConsole, token)).status).toBe(200);
      expect(await walk(t, apiRoutes(t), (route, res) => wrongChallenge(route, res, invalidToken), token)).toEqual([]);
    });

    it('challenges an access token issued for another resource (RFC 8707) with invalid_token', async () => {
      const token = await accessToken('openid admin', { resource: 'https://api.example.com/' });
      const res = await request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${token}`);
      expect(wrongChallenge({ method: 'GET', path: '/api/v1/users' }, res, invalidToken)).toBeUndefined();
    });

    it('challenges a browser session that ended without an error code', async () => {
      const user = await createUser(t, admin, { username: 'leaver' });
      const cookie = await signIn(t, user.username, user.password);
      const csrf = await sessionCsrf(t, cookie);
      expect((await request(t.url).post('/logout').set('Cookie', cookie).type('form').send({ csrf_token: csrf })).status).toBe(303);
      const res = await request(t.url).get('/api/v0/users/me/oauth2/authorizations').set('Cookie', cookie);
      expect([res.status, res.headers['www-authenticate']]).toEqual([401, bare]);
    });

    it('challenges another authentication scheme without an error code (RFC 6750 §3.1)', async () => {
      const res = await request(t.url).get('/api/v1/users').set('Authorization', 'Basic YWRtaW46YWRtaW4=');
      expect([res.status, res.headers['www-authenticate']]).toEqual([401, bare]);
    });

    it('asks for the missing scope on every route that demands one: 403 insufficient_scope with resource_metadata', async () => {
      const token = await accessToken('openid');
      const routes = apiRoutes(t).filter((r) => r.rule.scope !== undefined);
      expect(routes.length).toBeGreaterThan(20);
      const failures = await walk(t, routes, (route, res) => {
        const scope = (route as NestRoute).rule.scope;
        const expected = `Bearer realm="portcullis", error="insufficient_scope", scope="${scope}", resource_metadata="${metadataUrl}"`;
        if (res.status !== 403 || res.headers['www-authenticate'] !== expected) return `${key(route)}: ${res.status} ${String(res.headers['www-authenticate'])}`;
        return undefined;
      }, token);
      expect(failures).toEqual([]);
    });

    it('refuses an access token where the route takes none with a plain 403, no challenge', async () => {
      const token = await accessToken('openid account admin');
      const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Authorization', `Bearer ${token}`).send({});
      expect([res.status, res.body.type, res.headers['www-authenticate']]).toEqual([403, 'forbidden', undefined]);
    });

    it('refuses a caller without the role with a plain 403, no challenge', async () => {
      const user = await createUser(t, admin, { username: 'plain-user' });
      const cookie = await signIn(t, user.username, user.password);
      const res = await request(t.url).get('/api/v1/users').set('Cookie', cookie);
      expect([res.status, res.body.type, res.headers['www-authenticate']]).toEqual([403, 'forbidden', undefined]);
    });

    it('refuses a service account without the role with a plain 403, no challenge', async () => {
      const robot = await createServiceAccount(t, admin, 'plain-robot', 'user');
      const res = await request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${robot.token}`);
      expect([res.status, res.headers['www-authenticate']]).toEqual([403, undefined]);
    });

    it('adds the challenge to a 401 of the API that was raised without one', async () => {
      const failures: string[] = [];
      for (const path of ['/api/v1/probe/unauthorised', '/api/v1/probe/invalid-client']) {
        const problem = wrongChallenge({ method: 'GET', path }, await request(t.url).get(path), bare);
        if (problem) failures.push(problem);
      }
      expect(failures).toEqual([]);
    });

    it('names the same metadata on userinfo without a token', async () => {
      const res = await request(t.url).get('/oauth2/userinfo');
      expect([res.status, res.headers['www-authenticate']]).toEqual([401, bare]);
    });

    it('names the same metadata on userinfo with a refused token', async () => {
      const res = await userinfo(t, 'not-a-token');
      expect([res.status, res.headers['www-authenticate']]).toEqual([
        401,
        `Bearer realm="portcullis", error="invalid_token", error_description="the access token is invalid, expired or revoked", resource_metadata="${metadataUrl}"`,
      ]);
    });

    it('asks for openid on userinfo with a token without it', async () => {
      const res = await userinfo(t, await accessToken('account'));
      expect([res.status, res.headers['www-authenticate']]).toEqual([
        403,
        `Bearer realm="portcullis", error="insufficient_scope", scope="openid", resource_metadata="${metadataUrl}"`,
      ]);
    });
  });

  describe('an issuer with a path', () => {
    let t: TestApp;
    let issuer: string;
    let metadataUrl: string;
    beforeAll(async () => {
      t = await bootApp({ issuerPath: '/t1' });
      issuer = `${t.url}/t1`;
      metadataUrl = `${t.url}${PRM}/t1`;
    });
    afterAll(() => t.close());

    it('serves the metadata at the path-inserted URL, naming the issuer with its path', async () => {
      const res = await request(t.url).get(`${PRM}/t1`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.body).toMatchObject({ resource: issuer, authorization_servers: [issuer], resource_documentation: `${issuer}/docs` });
    });

    it('serves it through the regular route for another spelling', async () => {
      const res = await request(t.url).get(`${PRM}/t1?x=1`);
      expect([res.status, res.body.resource]).toEqual([200, issuer]);
    });

    it.each([PRM, `/t1${PRM}`, `${PRM}/t2`])('answers JSON 404 at %s, which would describe another resource', async (path) => {
      const res = await request(t.url).get(path);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/json/);
    });

    it('names the path-inserted URL in the challenge of the API', async () => {
      const res = await request(t.url).get('/api/v1/users');
      expect([res.status, res.headers['www-authenticate']]).toEqual([401, `Bearer realm="portcullis", resource_metadata="${metadataUrl}"`]);
    });

    it('is found and accepted by oauth4webapi from nothing but an API URL', async () => {
      const result = await runExternal<ResourceDiscovery>('oauth4webapi-resource-discovery.mjs', [`${t.url}/api/v1/users`, issuer]);
      expect(result).toMatchObject({ ok: true, metadataUrl, issuer });
      expect(result.challenges?.[0].parameters.resource_metadata).toBe(metadataUrl);
    });
  });

  describe('the authorization server disabled', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await bootApp({ env: { OAUTH2_AS_ENABLED: 'false' } });
    });
    afterAll(() => t.close());

    it('publishes no metadata: no authorization server could be named', async () => {
      const res = await request(t.url).get(PRM);
      expect(res.status).toBe(404);
    });

    it('challenges without resource_metadata', async () => {
      const res = await request(t.url).get('/api/v1/users');
      expect([res.status, res.headers['www-authenticate']]).toEqual([401, 'Bearer realm="portcullis"']);
    });
  });
});
