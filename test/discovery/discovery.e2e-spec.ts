import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { runExternal } from '../external/run-external';

interface DiscoveryResult {
  ok: boolean;
  url?: string;
  metadata?: Record<string, unknown>;
  error?: string;
}

const SCOPES = ['openid', 'profile', 'email', 'offline_access', 'account', 'admin'];

describe('discovery (RFC 8414, OpenID Connect Discovery)', () => {
  describe('an issuer without a path, DCR on', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await bootApp({ env: { OAUTH2_DCR_ENABLED: 'true', OAUTH2_SCOPES: 'reports:read=Read your reports' } });
    });
    afterAll(() => t.close());

    it.each(['oauth2', 'oidc'])('is accepted by oauth4webapi (%s)', async (algorithm) => {
      const result = await runExternal<DiscoveryResult>('oauth4webapi-discovery.mjs', [t.url, algorithm]);
      expect(result).toMatchObject({ ok: true, metadata: { issuer: t.url } });
    });

    it('describes this server from its configuration', async () => {
      const res = await request(t.url).get('/.well-known/oauth-authorization-server');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        issuer: t.url,
        authorization_endpoint: `${t.url}/oauth2/authorize`,
        token_endpoint: `${t.url}/oauth2/token`,
        jwks_uri: `${t.url}/oauth2/jwks`,
        registration_endpoint: `${t.url}/oauth2/register`,
        scopes_supported: [...SCOPES, 'reports:read'],
        response_types_supported: ['code'],
        response_modes_supported: ['query'],
        grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
        revocation_endpoint: `${t.url}/oauth2/revoke`,
        revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
        introspection_endpoint: `${t.url}/oauth2/introspect`,
        introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
        service_documentation: `${t.url}/docs`,
      });
    });

    it('adds the OpenID fields to openid-configuration', async () => {
      const oauth = (await request(t.url).get('/.well-known/oauth-authorization-server')).body;
      const res = await request(t.url).get('/.well-known/openid-configuration');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        ...oauth,
        userinfo_endpoint: `${t.url}/oauth2/userinfo`,
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        claims_supported: expect.arrayContaining(['sub', 'name', 'given_name', 'family_name', 'email', 'registered_at']),
        prompt_values_supported: ['none', 'login', 'consent'],
      });
    });

    it('may be cached for a while', async () => {
      const res = await request(t.url).get('/.well-known/openid-configuration');
      expect(res.headers['cache-control']).toBe('public, max-age=300');
    });

    it.each(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/oauth2/jwks'])(
      'serves %s prebuilt with the headers every answer has, revalidated by its ETag',
      async (path) => {
        const res = await request(t.url).get(path);
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(res.headers['x-request-id']).toBeTruthy();
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.text)));
        const etag = res.headers['etag'];
        expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
        const again = await request(t.url).get(path).set('If-None-Match', etag);
        expect(again.status).toBe(304);
        expect(again.text).toBe('');
        const head = await request(t.url).head(path);
        expect([head.status, head.headers['etag'], head.text]).toEqual([200, etag, undefined]);
        // Another spelling goes through the regular route, to the same document.
        const slashed = await request(t.url).get(`${path}?x=1`);
        expect([slashed.status, slashed.body]).toEqual([200, res.body]);
      },
    );

    it('answers cross-origin requests (browser-based clients)', async () => {
      const res = await request(t.url).get('/.well-known/oauth-authorization-server').set('Origin', 'https://inspector.example');
      expect(res.headers['access-control-allow-origin']).toBe('*');
      const preflight = await request(t.url).options('/oauth2/token').set('Origin', 'https://inspector.example')
        .set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'authorization,content-type');
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('*');
      expect(preflight.headers['access-control-allow-headers']).toMatch(/Authorization/);
    });

    it('never answers CORS on the pages or the authorization endpoint', async () => {
      for (const path of ['/login', '/oauth2/authorize']) {
        const res = await request(t.url).get(path).set('Origin', 'https://evil.example');
        expect([path, res.headers['access-control-allow-origin']]).toEqual([path, undefined]);
      }
    });

    it('answers JSON 404 for a well-known path of another issuer', async () => {
      const res = await request(t.url).get('/.well-known/oauth-authorization-server/other');
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/json/);
    });

    it('lists every scope with its description at /oauth2/scopes', async () => {
      const res = await request(t.url).get('/oauth2/scopes');
      expect(res.status).toBe(200);
      expect(res.body.scopes.map((s: { name: string }) => s.name)).toEqual([...SCOPES, 'reports:read']);
      expect(res.body.scopes).toContainEqual({ name: 'reports:read', description: 'Read your reports' });
      for (const scope of res.body.scopes) expect(scope.description).toEqual(expect.any(String));
    });
  });

  describe('DCR off', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await bootApp();
    });
    afterAll(() => t.close());

    it('names no registration endpoint', async () => {
      const res = await request(t.url).get('/.well-known/oauth-authorization-server');
      expect(res.body.registration_endpoint).toBeUndefined();
      expect(res.body.token_endpoint).toBe(`${t.url}/oauth2/token`);
    });
  });

  describe('an issuer with a path', () => {
    let t: TestApp;
    let issuer: string;
    beforeAll(async () => {
      t = await bootApp({ issuerPath: '/t1' });
      issuer = `${t.url}/t1`;
    });
    afterAll(() => t.close());

    it.each([
      ['oauth2', '/.well-known/oauth-authorization-server/t1'],
      ['oidc', '/t1/.well-known/openid-configuration'],
    ])('is accepted by oauth4webapi (%s, at %s)', async (algorithm, path) => {
      const result = await runExternal<DiscoveryResult>('oauth4webapi-discovery.mjs', [issuer, algorithm]);
      expect(result).toMatchObject({ ok: true, url: `${t.url}${path}`, metadata: { issuer, token_endpoint: `${issuer}/oauth2/token` } });
    });

    it.each([
      '/.well-known/oauth-authorization-server/t1',
      '/.well-known/openid-configuration/t1',
      '/t1/.well-known/openid-configuration',
      '/t1/.well-known/oauth-authorization-server',
      '/.well-known/oauth-authorization-server',
      '/.well-known/openid-configuration',
    ])('serves JSON naming the issuer at %s', async (path) => {
      const res = await request(t.url).get(path);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body.issuer).toBe(issuer);
    });

    it('answers JSON 404, never a page, for another path', async () => {
      const res = await request(t.url).get('/t2/.well-known/openid-configuration');
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/json/);
    });
  });

  describe('the authorization server disabled', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await bootApp({ env: { OAUTH2_AS_ENABLED: 'false', OAUTH2_DCR_ENABLED: 'true' } });
    });
    afterAll(() => t.close());

    it.each([
      ['get', '/.well-known/oauth-authorization-server'],
      ['get', '/.well-known/openid-configuration'],
      ['get', '/oauth2/scopes'],
      ['post', '/oauth2/token'],
      ['post', '/oauth2/register'],
    ] as const)('answers 404 at %s %s', async (method, path) => {
      const res = await request(t.url)[method](path);
      expect(res.status).toBe(404);
    });
  });
});
