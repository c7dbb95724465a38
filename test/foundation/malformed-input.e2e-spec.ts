import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { loginForm, signIn } from '../helpers/identity';
import { PROBLEM_CONTENT_TYPE } from '../helpers/problem';

const deepArrays = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
const deepObjects = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

/**
 * SPEC §7: malformed input of any kind gets a 4xx with a clear message, in the endpoint's own format, never a 500 —
 * NUL bytes and lone surrogates (one guard for query, form, JSON and Basic credentials), deep JSON, no body.
 */
describe('malformed input', () => {
  let t: TestApp;
  let admin: string;
  let app: RegisteredApp;

  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
    app = await createApp(t, admin);
  });
  afterAll(() => t.close());

  const expectOAuthInvalidRequest = (res: request.Response) => {
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/\S/) });
  };
  const expectProblem400 = (res: request.Response) => {
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
    expect(JSON.parse(res.text)).toMatchObject({ status: 400, title: expect.stringMatching(/\S/) });
  };
  const expectErrorPage = (res: request.Response, status = 400) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('<h1');
  };

  describe('NUL bytes and lone surrogates', () => {
    it('refuses a NUL in a form body at the token endpoint with invalid_request', async () => {
      const res = await request(t.url).post('/oauth2/token').type('form').set('Authorization', basic(app.clientId, app.clientSecret!))
        .send('grant_type=authorization_code&code=abc%00def');
      expectOAuthInvalidRequest(res);
    });

    it('refuses a NUL in a JSON body at the token endpoint', async () => {
      const res = await request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!))
        .send({ grant_type: 'refresh_token', refresh_token: 'a\u0000b' });
      expectOAuthInvalidRequest(res);
    });

    it('refuses a lone surrogate in a JSON body (written as an escape, as JSON allows)', async () => {
      const res = await request(t.url).post('/oauth2/revoke').set('Content-Type', 'application/json')
        .set('Authorization', basic(app.clientId, app.clientSecret!)).send('{"token":"x\\ud800y"}');
      expectOAuthInvalidRequest(res);
    });

    it('refuses a NUL inside HTTP Basic credentials', async () => {
      const res = await request(t.url).post('/oauth2/token').type('form').set('Authorization', basic(`${app.clientId}\u0000`, app.clientSecret!))
        .send({ grant_type: 'client_credentials' });
      expectOAuthInvalidRequest(res);
    });

    it('refuses a NUL in a parameter name', async () => {
      const res = await request(t.url).post('/oauth2/introspect').type('form').set('Authorization', basic(app.clientId, app.clientSecret!))
        .send('tok%00en=x&token=y');
      expectOAuthInvalidRequest(res);
    });

    it('refuses a NUL in a JSON body on /api with problem+json, and writes nothing', async () => {
      const before = await sql(t, 'SELECT count(*)::int AS n FROM users');
      const res = await request(t.url).post('/api/v1/users').set('Cookie', admin).send({ username: 'nul\u0000user', password: 'long-enough-password' });
      expectProblem400(res);
      expect(await sql(t, 'SELECT count(*)::int AS n FROM users')).toEqual(before);
    });

    it('refuses a NUL in the query of the authorization endpoint with the HTML error page', async () => {
      const res = await request(t.url).get(`/oauth2/authorize?client_id=${app.clientId}&state=a%00b`).redirects(0);
      expectErrorPage(res);
      expect(res.headers.location).toBeUndefined();
    });

    it('refuses a NUL in the sign-in form with the HTML error page', async () => {
      const form = await loginForm(t);
      const res = await request(t.url).post('/login').set('Cookie', form.cookie).type('form')
        .send(`username=admin%00&password=x&csrf_token=${encodeURIComponent(form.csrfToken)}`);
      expectErrorPage(res);
    });
  });

  describe('deep JSON', () => {
    it.each([
      ['/oauth2/register', 'RFC 6749 JSON'],
      ['/oauth2/token', 'RFC 6749 JSON'],
    ])('refuses 2,000 nested arrays at %s with a 400 in %s', async (path) => {
      const res = await request(t.url).post(path).set('Content-Type', 'application/json').send(`{"redirect_uris":${deepArrays(2000)}}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual(expect.any(String));
    });

    it('refuses 2,000 nested objects on /api/v1/oauth2/authorize with problem+json (reachable with a session)', async () => {
      const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Cookie', admin).set('Content-Type', 'application/json')
        .send(`{"client_id":"${app.clientId}","scope":${deepObjects(2000)}}`);
      expectProblem400(res);
    });

    it('accepts JSON as deep as real requests are', async () => {
      const res = await request(t.url).post('/api/v1/oauth2/apps').set('Cookie', admin).send({ name: 'shallow', redirect_uris: ['https://shallow.example.com/cb'] });
      expect(res.status).toBe(201);
    });
  });

  describe('POSTs without a parsed body', () => {
    it.each([
      ['/login'],
      ['/logout'],
      ['/account/apps/00000000-0000-4000-8000-000000000000/revoke'],
      ['/oauth2/authorize'],
    ])('%s with a text/plain body answers a page, never a 500', async (path) => {
      const res = await request(t.url).post(path).set('Cookie', admin).set('Content-Type', 'text/plain').send('username=admin').redirects(0);
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(500);
      if (res.status !== 303) expect(res.headers['content-type']).toMatch(/^text\/html/);
    });

    it.each([['/login'], ['/logout']])('%s with no body at all answers a page, never a 500', async (path) => {
      const res = await request(t.url).post(path).redirects(0);
      expect(res.status).toBeLessThan(500);
    });
  });
});
