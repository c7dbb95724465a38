import * as bcrypt from 'bcrypt';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { sql } from '../helpers/database';
import { bootApp, TestApp } from '../helpers/app';
import { basic, expectAuthenticated, expectInvalidClient, tokenWithBasic } from '../helpers/clients';
import { expectProblem, field } from '../helpers/problem';
import { createUser, signIn } from '../helpers/identity';

/**
 * The apps admin API (SPEC §2 `/api/v1/oauth2/apps…`): manual registration by admins (provenance `api`), the
 * metadata rules of RFC 7591 answered as problem+json, and the client secret shown only at creation and rotation.
 * Whether a secret works is proved at the token endpoint: a client that authenticates gets past client
 * authentication (anything but 401 invalid_client); a wrong or rotated secret gets 401 invalid_client.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** 32 random bytes, base64url without padding (SPEC §5). */
const CLIENT_SECRET = /^[A-Za-z0-9_-]{43}$/;
/** What an app may ask for when no scope is named: every built-in scope but the privileged `admin`. */
const UNPRIVILEGED_SCOPES = ['openid', 'profile', 'email', 'offline_access', 'account'];
const REDIRECT = 'https://billing.example.com/callback';

let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

/** Asserts an RFC 7807 answer: status, content type, and exactly `{type, title, status, request_id, invalid_fields?}`. */

/** An app as the API shows it (never with a secret). */
const appShape = (a: Partial<Record<string, unknown>> = {}) => ({
  id: expect.stringMatching(UUID),
  client_id: expect.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
  name: expect.any(String),
  display_name: expect.any(String),
  provenance: 'api',
  org_id: expect.stringMatching(UUID),
  redirect_uris: [REDIRECT],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  application_type: 'web',
  scope: UNPRIVILEGED_SCOPES,
  logo_uri: null,
  client_uri: null,
  allowed_resources: null,
  created_at: expect.stringMatching(ISO_DATE),
  last_used_at: null,
  reviewed_at: null,
  ...a,
});

/** Nothing that looks like a client secret or a bcrypt hash may appear. */
function expectNoSecretMaterial(res: request.Response, secret?: string): void {
  expect(res.text).not.toMatch(/"(client_secret|secret_hash|secretHash)"\s*:/);
  expect(res.text).not.toMatch(/\$2[aby]\$\d\d\$/);
  if (secret) expect(res.text).not.toContain(secret);
}

async function storedSecretHash(t: TestApp, id: string): Promise<string | null> {
  const [row] = await sql<{ secret_hash: string | null }>(t, 'SELECT secret_hash FROM apps WHERE id = $1', [id]);
  if (!row) throw new Error(`no app ${id} in the database`);
  return row.secret_hash;
}

async function defaultOrgId(t: TestApp, cookie: string): Promise<string> {
  const res = await request(t.url).get('/api/v1/orgs').query({ per_page: 200 }).set('Cookie', cookie);
  const org = (res.body.items as { id: string; name: string }[]).find((o) => o.name === 'default');
  if (!org) throw new Error('no default org');
  return org.id;
}

describe('apps admin API', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  const post = (body: object) => request(t.url).post('/api/v1/oauth2/apps').set('Cookie', admin).send(body);
  const get = (id: string) => request(t.url).get(`/api/v1/oauth2/apps/${id}`).set('Cookie', admin);
  const patch = (id: string, body: object) => request(t.url).patch(`/api/v1/oauth2/apps/${id}`).set('Cookie', admin).send(body);
  const rotate = (id: string) => request(t.url).post(`/api/v1/oauth2/apps/${id}/secret`).set('Cookie', admin);
  const remove = (id: string) => request(t.url).delete(`/api/v1/oauth2/apps/${id}`).set('Cookie', admin);
  const listAll = () => request(t.url).get('/api/v1/oauth2/apps').query({ per_page: 200 }).set('Cookie', admin);

  /** Creates an app and answers the 201 body; fails loudly when creation is refused. */
  async function created(body: object = {}): Promise<Record<string, any>> {
    const res = await post({ name: unique('app'), redirect_uris: [REDIRECT], ...body });
    if (res.status !== 201) throw new Error(`creating an app failed: ${res.status} ${res.text}`);
    return res.body;
  }
  /** A confidential app that may use client_credentials, so its secret can be tried at the token endpoint. */
  const machineApp = () => created({ grant_types: ['client_credentials'], redirect_uris: undefined });

  describe('create', () => {
    it('answers 201 with exactly the app fields plus a client_secret, provenance api, in the default org', async () => {
      const name = unique('billing');
      const res = await post({ name, redirect_uris: [REDIRECT] });
      expect(res.status).toBe(201);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ ...appShape({ name, display_name: name, org_id: await defaultOrgId(t, admin) }), client_secret: expect.stringMatching(CLIENT_SECRET) });
      expect(Date.now() - Date.parse(res.body.created_at)).toBeLessThan(60_000);
    });

    it('makes a secret of 32 random bytes in base64url (43 characters), different for every app', async () => {
      const a = await created();
      const b = await created();
      expect(a.client_secret).toMatch(CLIENT_SECRET);
      expect(b.client_secret).toMatch(CLIENT_SECRET);
      expect(Buffer.from(a.client_secret, 'base64url')).toHaveLength(32);
      expect(a.client_secret).not.toBe(b.client_secret);
    });

    it('makes a distinct client_id for every app', async () => {
      const a = await created();
      const b = await created();
      expect(a.client_id).not.toBe(b.client_id);
    });

    it('answers no client_secret for a public client (token_endpoint_auth_method none)', async () => {
      const name = unique('spa');
      const res = await post({ name, redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual(appShape({ name, display_name: name, token_endpoint_auth_method: 'none' }));
      expect(res.body).not.toHaveProperty('client_secret');
    });

    it('stores a public client without any secret hash', async () => {
      const app = await created({ token_endpoint_auth_method: 'none' });
      expect(await storedSecretHash(t, app.id)).toBeNull();
    });

    it('stores a bcrypt hash of the secret ($2b$), never the secret itself', async () => {
      const app = await created();
      const hash = await storedSecretHash(t, app.id);
      expect(hash).toMatch(/^\$2b\$\d\d\$[./A-Za-z0-9]{53}$/);
      expect(hash).not.toContain(app.client_secret);
      expect(await bcrypt.compare(app.client_secret, hash!)).toBe(true);
    });

    it('keeps every metadata field given', async () => {
      const name = unique('full');
      const res = await post({
        name,
        display_name: 'Billing Dashboard',
        redirect_uris: [REDIRECT, 'http://127.0.0.1:8080/cb'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
        application_type: 'native',
        scope: ['openid', 'offline_access'],
        logo_uri: 'https://billing.example.com/logo.png',
        client_uri: 'https://billing.example.com',
        allowed_resources: ['https://billing.example.com/api'],
      });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        ...appShape({
          name,
          display_name: 'Billing Dashboard',
          redirect_uris: [REDIRECT, 'http://127.0.0.1:8080/cb'],
          grant_types: ['authorization_code', 'refresh_token'],
          token_endpoint_auth_method: 'client_secret_post',
          application_type: 'native',
          scope: ['openid', 'offline_access'],
          logo_uri: 'https://billing.example.com/logo.png',
          client_uri: 'https://billing.example.com',
          allowed_resources: ['https://billing.example.com/api'],
        }),
        client_secret: expect.stringMatching(CLIENT_SECRET),
      });
    });

    it('takes scope as a space-separated string and answers it as an array', async () => {
      const app = await created({ scope: 'openid profile' });
      expect(app.scope).toEqual(['openid', 'profile']);
    });

    it('lets an admin give an app the admin scope', async () => {
      const app = await created({ scope: ['openid', 'admin'] });
      expect(app.scope).toEqual(['openid', 'admin']);
    });

    it('creates a client_credentials app without redirect URIs or response types', async () => {
      const app = await machineApp();
      expect(app).toEqual({ ...appShape({ name: app.name, display_name: app.name, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }), client_secret: expect.stringMatching(CLIENT_SECRET) });
    });

    it('places the app in the org named by org_id', async () => {
      const org = await request(t.url).post('/api/v1/orgs').set('Cookie', admin).send({ name: unique('org') });
      const app = await created({ org_id: org.body.id });
      expect(app.org_id).toBe(org.body.id);
    });

    it('places the app in the default org when org_id is null (the example of the API document)', async () => {
      expect((await created({ org_id: null })).org_id).toBe(await defaultOrgId(t, admin));
    });

    it('ignores a client_id, client_secret and provenance chosen by the caller', async () => {
      const app = await created({ client_id: 'my-own-id', client_secret: 'my-own-secret-my-own-secret-my-own-secret!', provenance: 'dcr' });
      expect(app.client_id).not.toBe('my-own-id');
      expect(app.client_secret).toMatch(CLIENT_SECRET);
      expect(app.provenance).toBe('api');
    });

    it('gives a secret that authenticates at the token endpoint', async () => {
      const app = await machineApp();
      expectAuthenticated(await tokenWithBasic(t, app.client_id, app.client_secret));
    });

    it('records last_used_at once the client authenticates', async () => {
      const app = await machineApp();
      await tokenWithBasic(t, app.client_id, app.client_secret);
      const res = await get(app.id);
      expect(res.body.last_used_at).toMatch(ISO_DATE);
      expect(Date.now() - Date.parse(res.body.last_used_at)).toBeLessThan(60_000);
    });

    it('refuses a wrong secret at the token endpoint: 401 invalid_client with a Basic challenge', async () => {
      const app = await machineApp();
      expectInvalidClient(await tokenWithBasic(t, app.client_id, `${app.client_secret.slice(0, -1)}${app.client_secret.endsWith('A') ? 'B' : 'A'}`));
    });

    describe('refuses bad metadata with 400 validation_error naming the field', () => {
      it.each<[string, Record<string, unknown>, string]>([
        ['http on a host that is not loopback', { redirect_uris: ['http://billing.example.com/cb'] }, 'redirect_uris.0'],
        ['a redirect URI with a fragment', { redirect_uris: [REDIRECT, 'https://billing.example.com/cb#x'] }, 'redirect_uris.1'],
        ['a javascript: redirect URI', { redirect_uris: ['javascript:alert(1)'] }, 'redirect_uris.0'],
        ['a relative redirect URI', { redirect_uris: ['/callback'] }, 'redirect_uris.0'],
        ['a redirect URI with credentials', { redirect_uris: ['https://user:pw@billing.example.com/cb'] }, 'redirect_uris.0'],
        ['an empty redirect_uris for the code flow', { redirect_uris: [] }, 'redirect_uris'],
        ['redirect_uris as a string', { redirect_uris: REDIRECT }, 'redirect_uris'],
        ['an unknown grant type', { grant_types: ['password'] }, 'grant_types'],
        ['grant_types as a string', { grant_types: 'authorization_code' }, 'grant_types'],
        ['response_types token', { response_types: ['token'] }, 'response_types'],
        ['a public client with client_credentials', { grant_types: ['client_credentials'], token_endpoint_auth_method: 'none', redirect_uris: undefined }, 'grant_types'],
        ['an unknown token_endpoint_auth_method', { token_endpoint_auth_method: 'private_key_jwt' }, 'token_endpoint_auth_method'],
        ['an unknown application_type', { application_type: 'browser' }, 'application_type'],
        ['an unknown scope', { scope: ['openid', 'launch-missiles'] }, 'scope'],
        ['a javascript: logo_uri', { logo_uri: 'javascript:alert(1)' }, 'logo_uri'],
        ['a data: client_uri', { client_uri: 'data:text/html,hi' }, 'client_uri'],
        ['a missing name', { name: undefined }, 'name'],
        ['a name that is a number', { name: 42 }, 'name'],
        ['a blank display_name', { display_name: '   ' }, 'display_name'],
      ])('%s', async (_case, override, name) => {
        const res = await post({ name: unique('bad'), redirect_uris: [REDIRECT], ...override });
        expectProblem(res, 400, 'validation_error', [field(name)]);
      });

      it('an org_id that is not a string (SPEC §7: wrong types get a 4xx, never a silent default)', async () => {
        const name = unique('typed-org');
        expectProblem(await post({ name, redirect_uris: [REDIRECT], org_id: 42 }), 400, 'validation_error', [field('org_id')]);
      });

      it('an org_id naming no org: reference_not_found', async () => {
        expectProblem(await post({ name: unique('lost'), redirect_uris: [REDIRECT], org_id: randomUUID() }), 400, 'validation_error', [field('org_id', 'reference_not_found')]);
      });
    });

    it('creates nothing when refused', async () => {
      const name = unique('refused');
      await post({ name, redirect_uris: ['http://billing.example.com/cb'] });
      expect((await listAll()).body.items.map((a: { name: string }) => a.name)).not.toContain(name);
    });
  });

  describe('list', () => {
    it('answers a page: {items, total, page, per_page} with the defaults 1 and 50', async () => {
      await created();
      const res = await request(t.url).get('/api/v1/oauth2/apps').set('Cookie', admin);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: expect.any(Array), total: expect.any(Number), page: 1, per_page: 50 });
      expect(res.body.items.length).toBe(Math.min(res.body.total, 50));
      expect(res.body.total).toBeGreaterThan(0);
    });

    it('shows a created app with exactly the app fields', async () => {
      const app = await created({ scope: ['openid'] });
      const { client_secret: _secret, ...shown } = app;
      expect((await listAll()).body.items).toContainEqual(shown);
    });

    it('shows every item with exactly the app fields', async () => {
      await created({ token_endpoint_auth_method: 'none' });
      const res = await listAll();
      for (const item of res.body.items) expect(Object.keys(item).sort()).toEqual(Object.keys(appShape()).sort());
    });

    it('never shows a secret or a hash', async () => {
      const app = await created();
      expectNoSecretMaterial(await listAll(), app.client_secret);
    });

    it('pages with ?page&per_page in a stable order', async () => {
      await created();
      await created();
      await created();
      const all = await listAll();
      const res = await request(t.url).get('/api/v1/oauth2/apps').query({ page: 2, per_page: 2 }).set('Cookie', admin);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: all.body.items.slice(2, 4), total: all.body.total, page: 2, per_page: 2 });
    });

    it('refuses per_page=0 with 400 validation_error', async () => {
      const res = await request(t.url).get('/api/v1/oauth2/apps').query({ per_page: 0 }).set('Cookie', admin);
      expectProblem(res, 400, 'validation_error', [field('per_page')]);
    });
  });

  describe('get', () => {
    it('answers the app with exactly the app fields and no secret', async () => {
      const app = await created({ display_name: 'Shown' });
      const { client_secret: secret, ...shown } = app;
      const res = await get(app.id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(shown);
      expectNoSecretMaterial(res, secret);
    });

    it('answers 404 not_found for an unknown id', async () => {
      expectProblem(await get(randomUUID()), 404, 'not_found');
    });

    it('answers 404 not_found for an id that is not a uuid', async () => {
      expectProblem(await get('not-a-uuid'), 404, 'not_found');
    });
  });

  describe('update', () => {
    it('answers 200 with the updated app, exactly the app fields', async () => {
      const app = await created();
      const res = await patch(app.id, { redirect_uris: ['https://billing.example.com/new-callback'], display_name: 'Renamed' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(appShape({ id: app.id, client_id: app.client_id, name: app.name, display_name: 'Renamed', org_id: app.org_id, created_at: app.created_at, redirect_uris: ['https://billing.example.com/new-callback'] }));
      expectNoSecretMaterial(res, app.client_secret);
    });

    it('persists the change', async () => {
      const app = await created();
      await patch(app.id, { scope: 'openid email', logo_uri: 'https://billing.example.com/l.png' });
      const res = await get(app.id);
      expect(res.body).toMatchObject({ scope: ['openid', 'email'], logo_uri: 'https://billing.example.com/l.png' });
    });

    it('keeps the fields it is not given', async () => {
      const app = await created({ application_type: 'native', client_uri: 'https://billing.example.com', scope: ['openid'] });
      const res = await patch(app.id, { name: unique('renamed') });
      expect(res.body).toMatchObject({ application_type: 'native', client_uri: 'https://billing.example.com', scope: ['openid'], redirect_uris: [REDIRECT] });
    });

    it('ignores client_id and provenance in the body', async () => {
      const app = await created();
      const res = await patch(app.id, { client_id: 'taken-over', provenance: 'dcr' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ client_id: app.client_id, provenance: 'api' });
    });

    it('keeps the secret working', async () => {
      const app = await machineApp();
      await patch(app.id, { name: unique('renamed-machine') });
      expectAuthenticated(await tokenWithBasic(t, app.client_id, app.client_secret));
    });

    it('allows switching between confidential methods (client_secret_basic → client_secret_post)', async () => {
      const app = await created();
      const res = await patch(app.id, { token_endpoint_auth_method: 'client_secret_post' });
      expect(res.status).toBe(200);
      expect(res.body.token_endpoint_auth_method).toBe('client_secret_post');
    });

    it('refuses a bad redirect URI, naming its index', async () => {
      const app = await created();
      expectProblem(await patch(app.id, { redirect_uris: [REDIRECT, 'http://evil.example/cb'] }), 400, 'validation_error', [field('redirect_uris.1')]);
    });

    it('checks the merged metadata as a whole: the code flow cannot be switched on without redirect URIs', async () => {
      const app = await machineApp();
      const res = await patch(app.id, { grant_types: ['authorization_code'], response_types: ['code'] });
      expectProblem(res, 400, 'validation_error', [field('redirect_uris')]);
    });

    it('checks the merged metadata as a whole: a public client cannot be given client_credentials', async () => {
      const app = await created({ token_endpoint_auth_method: 'none' });
      const res = await patch(app.id, { grant_types: ['client_credentials'], response_types: [] });
      expectProblem(res, 400, 'validation_error', [field('grant_types')]);
    });

    it('refuses to turn a confidential client public', async () => {
      const app = await created();
      expectProblem(await patch(app.id, { token_endpoint_auth_method: 'none' }), 400, 'validation_error', [field('token_endpoint_auth_method')]);
    });

    it('refuses to turn a public client confidential', async () => {
      const app = await created({ token_endpoint_auth_method: 'none' });
      expectProblem(await patch(app.id, { token_endpoint_auth_method: 'client_secret_basic' }), 400, 'validation_error', [field('token_endpoint_auth_method')]);
    });

    it('changes nothing when refused', async () => {
      const app = await created();
      await patch(app.id, { redirect_uris: ['http://evil.example/cb'], display_name: 'Should not stick' });
      const { client_secret: _secret, ...before } = app;
      expect((await get(app.id)).body).toEqual(before);
    });

    it('refuses a blank name', async () => {
      const app = await created();
      expectProblem(await patch(app.id, { name: '' }), 400, 'validation_error', [field('name')]);
    });

    it('answers 404 not_found for an unknown id', async () => {
      expectProblem(await patch(randomUUID(), { display_name: 'x' }), 404, 'not_found');
    });

    it('answers 404 not_found for an id that is not a uuid', async () => {
      expectProblem(await patch('42', { display_name: 'x' }), 404, 'not_found');
    });
  });

  describe('secret rotation', () => {
    it('answers 200 with the app and a new client_secret', async () => {
      const app = await created();
      const res = await rotate(app.id);
      expect(res.status).toBe(200);
      const { client_secret: _old, ...shown } = app;
      expect(res.body).toEqual({ ...shown, client_secret: expect.stringMatching(CLIENT_SECRET) });
      expect(res.body.client_secret).not.toBe(app.client_secret);
    });

    it('makes the new secret work at the token endpoint', async () => {
      const app = await machineApp();
      const { client_secret: secret } = (await rotate(app.id)).body;
      expectAuthenticated(await tokenWithBasic(t, app.client_id, secret));
    });

    it('stops the old secret at once, even right after it was used', async () => {
      const app = await machineApp();
      expectAuthenticated(await tokenWithBasic(t, app.client_id, app.client_secret));
      await rotate(app.id);
      expectInvalidClient(await tokenWithBasic(t, app.client_id, app.client_secret));
    });

    it('stores a new bcrypt hash of the new secret', async () => {
      const app = await created();
      const before = await storedSecretHash(t, app.id);
      const { client_secret: secret } = (await rotate(app.id)).body;
      const after = await storedSecretHash(t, app.id);
      expect(after).toMatch(/^\$2b\$/);
      expect(after).not.toBe(before);
      expect(after).not.toContain(secret);
      expect(await bcrypt.compare(secret, after!)).toBe(true);
    });

    it('does not show the new secret afterwards', async () => {
      const app = await created();
      const { client_secret: secret } = (await rotate(app.id)).body;
      expectNoSecretMaterial(await get(app.id), secret);
    });

    it('refuses a public client with 400 validation_error', async () => {
      const app = await created({ token_endpoint_auth_method: 'none' });
      expectProblem(await rotate(app.id), 400, 'validation_error', [field('token_endpoint_auth_method')]);
    });

    it('gives a public client no secret hash when refused', async () => {
      const app = await created({ token_endpoint_auth_method: 'none' });
      await rotate(app.id);
      expect(await storedSecretHash(t, app.id)).toBeNull();
    });

    it('answers 404 not_found for an unknown id', async () => {
      expectProblem(await rotate(randomUUID()), 404, 'not_found');
    });

    it('answers 404 not_found for an id that is not a uuid', async () => {
      expectProblem(await rotate('nope'), 404, 'not_found');
    });
  });

  describe('delete', () => {
    it('answers 204 with an empty body, then 404', async () => {
      const app = await created();
      const res = await remove(app.id);
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expectProblem(await get(app.id), 404, 'not_found');
    });

    it('makes the client answer 401 invalid_client at the token endpoint', async () => {
      const app = await machineApp();
      expectAuthenticated(await tokenWithBasic(t, app.client_id, app.client_secret));
      await remove(app.id);
      expectInvalidClient(await tokenWithBasic(t, app.client_id, app.client_secret));
    });

    it('answers 404 not_found for an unknown id', async () => {
      expectProblem(await remove(randomUUID()), 404, 'not_found');
    });

    it('answers 404 not_found for an id that is not a uuid', async () => {
      expectProblem(await remove('nope'), 404, 'not_found');
    });
  });
});

describe('apps admin API: who may call it', () => {
  let t: TestApp;
  let admin: string;
  let userCookie: string;
  let appId: string;
  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
    const user = await createUser(t, admin, { username: 'plain-user' });
    userCookie = await signIn(t, user.username, user.password);
    const res = await request(t.url).post('/api/v1/oauth2/apps').set('Cookie', admin).send({ name: 'target', redirect_uris: [REDIRECT] });
    appId = res.body.id;
  });
  afterAll(() => t.close());

  /** Every apps route, aimed at a real app, with a body that would succeed for an admin. */
  const ROUTES: [method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: object][] = [
    ['post', '/api/v1/oauth2/apps', { name: 'intruder-app', redirect_uris: [REDIRECT] }],
    ['get', '/api/v1/oauth2/apps'],
    ['get', '/api/v1/oauth2/apps/:id'],
    ['patch', '/api/v1/oauth2/apps/:id', { redirect_uris: ['https://evil.example/cb'] }],
    ['post', '/api/v1/oauth2/apps/:id/secret'],
    ['delete', '/api/v1/oauth2/apps/:id'],
  ];
  const routes = ROUTES.map((r) => [`${r[0].toUpperCase()} ${r[1]}`, r] as const);
  const call = ([method, path, body]: (typeof ROUTES)[number]) => {
    const req = request(t.url)[method](path.replace(':id', appId));
    return body ? req.send(body) : req;
  };

  it.each(routes)('%s: no credentials → 401 unauthorised with a Bearer challenge', async (_name, route) => {
    const res = await call(route);
    expectProblem(res, 401, 'unauthorised');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it.each(routes)("%s: a non-admin user's session → 403 forbidden", async (_name, route) => {
    expectProblem(await call(route).set('Cookie', userCookie), 403, 'forbidden');
  });

  it('changes nothing when refused: the app keeps its redirect URIs and still exists', async () => {
    await call(ROUTES[3]).set('Cookie', userCookie);
    await call(ROUTES[5]).set('Cookie', userCookie);
    const res = await request(t.url).get(`/api/v1/oauth2/apps/${appId}`).set('Cookie', admin);
    expect(res.status).toBe(200);
    expect(res.body.redirect_uris).toEqual([REDIRECT]);
  });
});
