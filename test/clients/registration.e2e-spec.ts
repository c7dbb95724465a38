import { AppsService } from '../../src/clients/apps.service';
import * as bcrypt from 'bcrypt';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { sql } from '../helpers/database';
import { DcrCleanupService } from '../../src/clients/registration/dcr-cleanup.service';
import { MAX_REDIRECT_URIS } from '../../src/clients/registration/client-metadata';
import { bootApp, TestApp } from '../helpers/app';
import { expectAuthenticated, expectInvalidClient, tokenWithBasic } from '../helpers/clients';
import { signIn } from '../helpers/identity';

/**
 * Dynamic client registration (RFC 7591, SPEC §5): `POST /oauth2/register` while OAUTH2_DCR_ENABLED. The server
 * makes the client_id and the secret; bad metadata is 400 `invalid_redirect_uri` or `invalid_client_metadata`;
 * registration is rate-limited per source address, optionally gated by an initial access token, open to CORS; and
 * self-registered apps nobody uses are swept away.
 *
 * Every registration that reaches the endpoint counts against the per-address limit (REGISTRATIONS_PER_MINUTE),
 * refused ones included, and every test here comes from 127.0.0.1. So each describe boots its own app and keeps
 * below that many registrations; the count is noted on each.
 */

const DCR_ON = { OAUTH2_DCR_ENABLED: 'true' };
/** 32 random bytes, base64url without padding (SPEC §5). */
const CLIENT_SECRET = /^[A-Za-z0-9_-]{43}$/;
const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** What a self-registered app gets when it names no scope: never `account` or `admin` (SPEC §2). */
const UNPRIVILEGED_SCOPES = 'openid profile email offline_access';
const REDIRECT = 'https://client.example.com/callback';
/** OAUTH2_DCR_RATE_LIMIT's default (SPEC §1). */
const REGISTRATIONS_PER_MINUTE = 20;

/** The smallest valid registration: one redirect URI. */
const minimal = (extra: Record<string, unknown> = {}) => ({ redirect_uris: [REDIRECT], ...extra });

function register(t: TestApp, body: unknown): request.Test {
  return request(t.url).post('/oauth2/register').send(body as object);
}

/** RFC 7591 §3.2.2: 400 with exactly `{error, error_description}`, not cacheable. */
function expectRegistrationError(res: request.Response, error: 'invalid_redirect_uri' | 'invalid_client_metadata'): void {
  expect(res.status).toBe(400);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({ error, error_description: expect.stringMatching(/\S/) });
  expect(res.headers['cache-control']).toBe('no-store');
}




/** The admin API's id of the app with this client_id. */
async function appIdOf(t: TestApp, clientId: string): Promise<string> {
  const [row] = await sql<{ id: string }>(t, 'SELECT id FROM apps WHERE client_id = $1', [clientId]);
  if (!row) throw new Error(`no app with client_id ${clientId}`);
  return row.id;
}

async function orgsByName(t: TestApp, admin: string): Promise<Map<string, string>> {
  const res = await request(t.url).get('/api/v1/orgs').query({ per_page: 200 }).set('Cookie', admin);
  return new Map((res.body.items as { id: string; name: string }[]).map((o) => [o.name, o.id]));
}

describe('registration: disabled (the default)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp();
  });
  afterAll(() => t.close());

  it('answers 404 to a valid registration', async () => {
    const res = await register(t, minimal({ client_name: 'Nobody home' }));
    expect(res.status).toBe(404);
    expect(res.body).not.toHaveProperty('client_id');
  });
});

// 15 registrations.
describe('registration: confidential and public clients', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await bootApp({ env: DCR_ON });
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  it('registers a confidential client: 201 with its credentials and exactly the accepted metadata', async () => {
    const res = await register(t, {
      client_name: 'My MCP client',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid profile offline_access',
    });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      client_id: expect.stringMatching(CLIENT_ID),
      client_secret: expect.stringMatching(CLIENT_SECRET),
      client_id_issued_at: expect.any(Number),
      client_secret_expires_at: 0,
      client_name: 'My MCP client',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid profile offline_access',
      application_type: 'web',
    });
  });

  it('answers with Cache-Control: no-store, as the body holds a client secret (RFC 7591 §3.2.1, RFC 6749 §5.1)', async () => {
    const res = await register(t, minimal());
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('answers client_id_issued_at as the current time in whole seconds', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await register(t, minimal());
    const after = Math.ceil(Date.now() / 1000);
    expect(Number.isInteger(res.body.client_id_issued_at)).toBe(true);
    expect(res.body.client_id_issued_at).toBeGreaterThanOrEqual(before - 5);
    expect(res.body.client_id_issued_at).toBeLessThanOrEqual(after + 5);
  });

  it('registers a public client (token_endpoint_auth_method none) without a client_secret', async () => {
    const res = await register(t, minimal({ token_endpoint_auth_method: 'none', client_name: 'CLI' }));
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      client_id: expect.stringMatching(CLIENT_ID),
      client_id_issued_at: expect.any(Number),
      client_secret_expires_at: 0,
      client_name: 'CLI',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: UNPRIVILEGED_SCOPES,
      application_type: 'web',
    });
  });

  it('defaults to the code flow, client_secret_basic, web, and every unprivileged scope', async () => {
    const res = await register(t, minimal());
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', application_type: 'web', scope: UNPRIVILEGED_SCOPES });
  });

  it('accepts client_secret_post', async () => {
    const res = await register(t, minimal({ token_endpoint_auth_method: 'client_secret_post' }));
    expect(res.status).toBe(201);
    expect(res.body.token_endpoint_auth_method).toBe('client_secret_post');
    expect(res.body.client_secret).toMatch(CLIENT_SECRET);
  });

  it('accepts a native app with a loopback http redirect URI', async () => {
    const redirect = 'http://127.0.0.1:33418/callback';
    const res = await register(t, { redirect_uris: [redirect], application_type: 'native', token_endpoint_auth_method: 'none' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ application_type: 'native', redirect_uris: [redirect] });
  });

  it('echoes logo_uri and client_uri', async () => {
    const res = await register(t, minimal({ logo_uri: 'https://client.example.com/logo.png', client_uri: 'https://client.example.com' }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ logo_uri: 'https://client.example.com/logo.png', client_uri: 'https://client.example.com' });
  });

  it('ignores a client_id and a client_secret chosen by the client', async () => {
    const chosen = { client_id: 'i-pick-my-own-id', client_secret: 'i-pick-my-own-secret-i-pick-my-own-secret' };
    const res = await register(t, minimal(chosen));
    expect(res.status).toBe(201);
    expect(res.body.client_id).not.toBe(chosen.client_id);
    expect(res.body.client_secret).toMatch(CLIENT_SECRET);
    expect(res.body.client_secret).not.toBe(chosen.client_secret);
    expect(await sql(t, 'SELECT id FROM apps WHERE client_id = $1', [chosen.client_id])).toEqual([]);
  });

  it('shows the app in the admin API with provenance dcr, in the default org', async () => {
    const res = await register(t, minimal({ client_name: 'Listed agent' }));
    const app = await request(t.url).get(`/api/v1/oauth2/apps/${await appIdOf(t, res.body.client_id)}`).set('Cookie', admin);
    expect(app.status).toBe(200);
    expect(app.body).toMatchObject({ client_id: res.body.client_id, name: 'Listed agent', provenance: 'dcr', org_id: (await orgsByName(t, admin)).get('default') });
  });

  it('ignores a privileged org_id or provenance in the body', async () => {
    const org = await request(t.url).post('/api/v1/orgs').set('Cookie', admin).send({ name: 'elsewhere' });
    const res = await register(t, minimal({ org_id: org.body.id, provenance: 'api' }));
    const app = await request(t.url).get(`/api/v1/oauth2/apps/${await appIdOf(t, res.body.client_id)}`).set('Cookie', admin);
    expect(app.body).toMatchObject({ provenance: 'dcr', org_id: (await orgsByName(t, admin)).get('default') });
  });

  it('stores a bcrypt hash of the secret ($2b$), never the secret itself', async () => {
    const res = await register(t, minimal());
    const [row] = await sql<{ secret_hash: string }>(t, 'SELECT secret_hash FROM apps WHERE client_id = $1', [res.body.client_id]);
    expect(row.secret_hash).toMatch(/^\$2b\$\d\d\$/);
    expect(row.secret_hash).not.toContain(res.body.client_secret);
    expect(await bcrypt.compare(res.body.client_secret, row.secret_hash)).toBe(true);
  });

  it('gives a secret that authenticates at the token endpoint', async () => {
    const res = await register(t, minimal());
    expectAuthenticated(await tokenWithBasic(t, res.body.client_id, res.body.client_secret));
  });

  it('lets a registered public client identify itself at the token endpoint by client_id alone', async () => {
    const res = await register(t, minimal({ token_endpoint_auth_method: 'none' }));
    expectAuthenticated(await request(t.url).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: res.body.client_id }));
  });

  it('answers a preflight from another origin with Access-Control-Allow-Origin: *', async () => {
    const res = await request(t.url)
      .options('/oauth2/register')
      .set('Origin', 'https://inspector.example')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type');
    expect(res.status).toBeLessThan(300);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-methods']).toMatch(/\bPOST\b/);
  });

  it('answers the cross-origin registration itself with Access-Control-Allow-Origin: *', async () => {
    const res = await register(t, minimal()).set('Origin', 'https://inspector.example');
    expect(res.status).toBe(201);
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });
});

// 3 registrations.
describe('registration: the org of self-registered apps', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await bootApp({ env: { ...DCR_ON, OAUTH2_DCR_DEFAULT_ORG: 'mcp-clients' } });
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  it('creates the org named by OAUTH2_DCR_DEFAULT_ORG when it is missing, and places the app in it', async () => {
    expect((await orgsByName(t, admin)).has('mcp-clients')).toBe(false);
    const res = await register(t, minimal());
    const orgId = (await orgsByName(t, admin)).get('mcp-clients');
    expect(orgId).toMatch(UUID);
    const app = await request(t.url).get(`/api/v1/oauth2/apps/${await appIdOf(t, res.body.client_id)}`).set('Cookie', admin);
    expect(app.body).toMatchObject({ provenance: 'dcr', org_id: orgId });
  });

  it('reuses that org for the next registration', async () => {
    await register(t, minimal());
    const res = await register(t, minimal());
    const app = await request(t.url).get(`/api/v1/oauth2/apps/${await appIdOf(t, res.body.client_id)}`).set('Cookie', admin);
    const orgs = await request(t.url).get('/api/v1/orgs').query({ per_page: 200 }).set('Cookie', admin);
    expect((orgs.body.items as { name: string }[]).filter((o) => o.name === 'mcp-clients')).toHaveLength(1);
    expect(app.body.org_id).toBe((await orgsByName(t, admin)).get('mcp-clients'));
  });
});

// 15 registrations.
describe('registration: refused redirect URIs (invalid_redirect_uri)', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await bootApp({ env: DCR_ON });
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  it.each<[string, unknown]>([
    ['http on a host that is not loopback', ['http://client.example.com/callback']],
    ['http on a host that only looks like loopback', ['http://localhost.evil.example/callback']],
    ['a fragment', ['https://client.example.com/callback#frag']],
    ['a javascript: URI', ['javascript:alert(document.domain)']],
    ['a data: URI', ['data:text/html,<script>alert(1)</script>']],
    ['a relative URI', ['/callback']],
    ['a URI with credentials', ['https://user:secret@client.example.com/callback']],
    ['one bad URI among good ones', [REDIRECT, 'http://client.example.com/callback']],
    ['an empty list', []],
    ['redirect_uris as a string', REDIRECT],
    ['an entry that is not a string', [42]],
    [`${MAX_REDIRECT_URIS + 1} URIs, one over the limit`, Array.from({ length: MAX_REDIRECT_URIS + 1 }, (_, i) => `${REDIRECT}/${i}`)],
  ])('refuses %s', async (_case, redirectUris) => {
    expectRegistrationError(await register(t, { client_name: 'Bad redirect', redirect_uris: redirectUris }), 'invalid_redirect_uri');
  });

  it('refuses a missing redirect_uris', async () => {
    expectRegistrationError(await register(t, { client_name: 'No redirect' }), 'invalid_redirect_uri');
  });

  it('refuses a list of 10 000 redirect URIs', async () => {
    // Short entries, so the body stays under the 100 kB limit and the list itself is what gets judged.
    const body = { redirect_uris: Array.from({ length: 10_000 }, () => 'https:x') };
    expect(JSON.stringify(body).length).toBeLessThan(100 * 1024);
    expectRegistrationError(await register(t, body), 'invalid_redirect_uri');
  });

  it('refuses 10 000 full-size redirect URIs (a body over the limit) with a 4xx, never a 500', async () => {
    const res = await register(t, { redirect_uris: Array.from({ length: 10_000 }, (_, i) => `https://client.example.com/callback/${i}`) });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: expect.any(String), error_description: expect.stringMatching(/\S/) });
  });

  it('registers nothing when refused', async () => {
    await register(t, { client_name: 'never-stored', redirect_uris: ['http://client.example.com/callback'] });
    const list = await request(t.url).get('/api/v1/oauth2/apps').query({ per_page: 200 }).set('Cookie', admin);
    expect((list.body.items as { name: string }[]).map((a) => a.name)).not.toContain('never-stored');
  });
});

// 15 registrations.
describe('registration: refused metadata (invalid_client_metadata)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp({ env: DCR_ON });
  });
  afterAll(() => t.close());

  it.each<[string, Record<string, unknown>]>([
    ['grant_types as a string', { grant_types: 'authorization_code' }],
    ['client_name as a number', { client_name: 42 }],
    ['an empty client_name', { client_name: '' }],
    ['the password grant', { grant_types: ['password'] }],
    ['the implicit grant', { grant_types: ['implicit'] }],
    ['client_credentials, which is not self-registrable', { grant_types: ['client_credentials'] }],
    ['refresh_token without authorization_code', { grant_types: ['refresh_token'] }],
    ['response_types ["token"]', { response_types: ['token'] }],
    ['a public client with client_credentials', { token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'client_credentials'] }],
    ['an unknown token_endpoint_auth_method', { token_endpoint_auth_method: 'private_key_jwt' }],
    ['an unknown application_type', { application_type: 'browser' }],
    ['an unknown scope', { scope: 'openid launch-missiles' }],
    ['the privileged admin scope', { scope: 'openid admin' }],
    ['a javascript: logo_uri', { logo_uri: 'javascript:alert(1)' }],
  ])('refuses %s', async (_case, override) => {
    expectRegistrationError(await register(t, minimal(override)), 'invalid_client_metadata');
  });

  it('refuses a body that is a JSON array', async () => {
    expectRegistrationError(await register(t, [minimal()]), 'invalid_client_metadata');
  });

  it.each([
    ['malformed JSON', '{"redirect_uris": ["https://client.example.com/callback"'],
    ['a JSON string', '"https://client.example.com/callback"'],
  ])('refuses %s with a 400 RFC 6749 error, never a 500', async (_case, raw) => {
    const res = await request(t.url).post('/oauth2/register').set('Content-Type', 'application/json').send(raw);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: expect.stringMatching(/^(invalid_request|invalid_client_metadata)$/), error_description: expect.stringMatching(/\S/) });
  });
});

// 21 registrations: the limit and one more.
describe('registration: rate limit per source address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp({ env: DCR_ON });
  });
  afterAll(() => t.close());

  it(`answers registration ${REGISTRATIONS_PER_MINUTE + 1} within a minute with 429 and Retry-After`, async () => {
    const statuses: number[] = [];
    for (let i = 0; i < REGISTRATIONS_PER_MINUTE; i++) statuses.push((await register(t, minimal())).status);
    expect(statuses).toEqual(Array(REGISTRATIONS_PER_MINUTE).fill(201));
    const res = await register(t, minimal());
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(res.body).toEqual({ error: expect.any(String), error_description: expect.stringMatching(/\S/) });
  });
});

describe('registration: OAUTH2_DCR_RATE_LIMIT', () => {
  it('sets the registrations allowed per source address and minute', async () => {
    const t = await bootApp({ env: { ...DCR_ON, OAUTH2_DCR_RATE_LIMIT: '3' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await register(t, minimal())).status);
      expect(statuses).toEqual([201, 201, 201, 429]);
    } finally {
      await t.close();
    }
  });

  it('is off at 0', async () => {
    const t = await bootApp({ env: { ...DCR_ON, OAUTH2_DCR_RATE_LIMIT: '0' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < REGISTRATIONS_PER_MINUTE + 5; i++) statuses.push((await register(t, minimal())).status);
      expect(statuses).toEqual(Array(REGISTRATIONS_PER_MINUTE + 5).fill(201));
    } finally {
      await t.close();
    }
  });

  it('counts a repeated registration answered with the client registered before: it is still a registration request', async () => {
    const t = await bootApp({ env: { ...DCR_ON, OAUTH2_DCR_RATE_LIMIT: '3' } });
    try {
      const statuses: number[] = [];
      const clientIds = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const res = await register(t, minimal({ token_endpoint_auth_method: 'none' }));
        statuses.push(res.status);
        if (res.status === 201) clientIds.add(res.body.client_id);
      }
      expect(statuses).toEqual([201, 201, 201, 429]);
      expect(clientIds.size).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('holds across instances on one database: they share one counter', async () => {
    const a = await bootApp({ env: { ...DCR_ON, OAUTH2_DCR_RATE_LIMIT: '4' } });
    const b = await bootApp({ env: { ...DCR_ON, OAUTH2_DCR_RATE_LIMIT: '4' }, databaseUrl: a.databaseUrl });
    try {
      const statuses = await Promise.all([a, b, a, b, a, b].map(async (t) => (await register(t, minimal())).status));
      expect(statuses.filter((s) => s === 201)).toHaveLength(4);
      expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

// 1 registration gets through; the refused ones stop before the limiter.
describe('registration: initial access token', () => {
  const INITIAL_ACCESS_TOKEN = 'iat-7f3c9a1e5b2d4c6a8e0f1b3d5c7a9e2f';
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp({ env: { ...DCR_ON, OAUTH2_DCR_INITIAL_ACCESS_TOKEN: INITIAL_ACCESS_TOKEN } });
  });
  afterAll(() => t.close());

  /** RFC 7591 §3: a missing or invalid initial access token is answered as RFC 6750 says. */
  function expectRefused(res: request.Response): void {
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: expect.any(String) });
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
  }

  it('refuses a registration without it: 401', async () => {
    expectRefused(await register(t, minimal()));
  });

  it('refuses a wrong one: 401', async () => {
    expectRefused(await register(t, minimal()).set('Authorization', `Bearer ${INITIAL_ACCESS_TOKEN}x`));
  });

  it('refuses it in the query string: 401', async () => {
    expectRefused(await request(t.url).post('/oauth2/register').query({ access_token: INITIAL_ACCESS_TOKEN }).send(minimal()));
  });

  it('registers with Authorization: Bearer <it>: 201', async () => {
    const res = await register(t, minimal()).set('Authorization', `Bearer ${INITIAL_ACCESS_TOKEN}`);
    expect(res.status).toBe(201);
    expect(res.body.client_id).toMatch(CLIENT_ID);
  });
});

// 5 registrations.
describe('registration: cleanup of unused self-registered apps', () => {
  /** OAUTH2_DCR_UNUSED_TTL and OAUTH2_DCR_IDLE_TTL, in seconds. */
  const UNUSED_TTL = 3600;
  const IDLE_TTL = 86400;
  let t: TestApp;
  let admin: string;
  let cleanup: DcrCleanupService;
  beforeAll(async () => {
    t = await bootApp({ env: { ...DCR_ON, OAUTH2_DCR_UNUSED_TTL: `${UNUSED_TTL}s`, OAUTH2_DCR_IDLE_TTL: `${IDLE_TTL}s` } });
    admin = await signIn(t);
    cleanup = t.app.get(DcrCleanupService);
  });
  afterAll(() => t.close());

  async function registered(): Promise<{ id: string; clientId: string; secret: string }> {
    const res = await register(t, minimal());
    if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${res.text}`);
    return { id: await appIdOf(t, res.body.client_id), clientId: res.body.client_id, secret: res.body.client_secret };
  }
  /**
   * Moves an app's timestamps into the past, as if it had been registered (and used) that long ago. Uses are
   * written behind, so the pending ones are written first.
   */
  const age = async (id: string, column: 'created_at' | 'last_used_at', seconds: number) => {
    await t.app.get(AppsService).flushUsage();
    await sql(t, `UPDATE apps SET ${column} = now() - make_interval(secs => $2) WHERE id = $1`, [id, seconds]);
  };
  const exists = async (id: string) => (await sql(t, 'SELECT 1 FROM apps WHERE id = $1', [id])).length === 1;

  it('removes a never-used DCR app registered longer ago than OAUTH2_DCR_UNUSED_TTL', async () => {
    const app = await registered();
    await age(app.id, 'created_at', UNUSED_TTL + 60);
    expect(await cleanup.sweep()).toBeGreaterThanOrEqual(1);
    expect((await request(t.url).get(`/api/v1/oauth2/apps/${app.id}`).set('Cookie', admin)).status).toBe(404);
  });

  it('keeps an admin-registered (api) app of the same age', async () => {
    const created = await request(t.url).post('/api/v1/oauth2/apps').set('Cookie', admin).send({ name: 'old-api-app', redirect_uris: [REDIRECT] });
    await age(created.body.id, 'created_at', UNUSED_TTL + 60);
    await cleanup.sweep();
    expect(await exists(created.body.id)).toBe(true);
  });

  it('keeps a DCR app registered recently, though never used', async () => {
    const app = await registered();
    await cleanup.sweep();
    expect(await exists(app.id)).toBe(true);
  });

  it('keeps an old DCR app that was used recently', async () => {
    const app = await registered();
    expectAuthenticated(await tokenWithBasic(t, app.clientId, app.secret));
    await age(app.id, 'created_at', UNUSED_TTL + 60);
    await cleanup.sweep();
    expect(await exists(app.id)).toBe(true);
  });

  it('removes a DCR app idle longer than OAUTH2_DCR_IDLE_TTL with no live refresh token', async () => {
    const app = await registered();
    expectAuthenticated(await tokenWithBasic(t, app.clientId, app.secret));
    await age(app.id, 'created_at', IDLE_TTL + 120);
    await age(app.id, 'last_used_at', IDLE_TTL + 60);
    await cleanup.sweep();
    expect(await exists(app.id)).toBe(false);
  });

  it('answers a removed client with 401 invalid_client at the token endpoint', async () => {
    const app = await registered();
    await age(app.id, 'created_at', UNUSED_TTL + 60);
    await cleanup.sweep();
    expectInvalidClient(await tokenWithBasic(t, app.clientId, app.secret));
  });
});

/**
 * MCP clients register on every connect. A public client registering again from the same address with the same
 * metadata within OAUTH2_DCR_REUSE_WINDOW (an hour unless set) is answered the client it registered before; a
 * confidential one always gets a new client, as its secret is shown once. OAUTH2_DCR_RATE_LIMIT is off here: the
 * tests register well over 20 times from 127.0.0.1.
 */
describe('registration: a public client registering again gets its client back', () => {
  /** OAUTH2_DCR_UNUSED_TTL here, in seconds: shorter than the window, so an app can be due for removal inside it. */
  const UNUSED_TTL = 3600;
  let t: TestApp;
  let admin: string;
  let agents = 0;
  beforeAll(async () => {
    t = await bootApp({ env: { ...DCR_ON, OAUTH2_DCR_RATE_LIMIT: '0', OAUTH2_DCR_UNUSED_TTL: `${UNUSED_TTL}s`, OAUTH2_DCR_REUSE_WINDOW: '1d' } });
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  /** Metadata of its own for each test, so no test is answered another's client. */
  const agent = (extra: Record<string, unknown> = {}) => ({
    client_name: `Agent ${++agents}`,
    redirect_uris: ['http://127.0.0.1:33418/callback', 'http://localhost:33418/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none',
    application_type: 'native',
    scope: 'openid offline_access',
    ...extra,
  });
  async function registered(body: Record<string, unknown>): Promise<request.Response> {
    const res = await register(t, body);
    if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${res.text}`);
    return res;
  }
  const appCount = async (clientIds: string[]) =>
    Number((await sql<{ n: string }>(t, 'SELECT count(*) AS n FROM apps WHERE client_id = ANY($1)', [clientIds]))[0].n);
  const appsNamed = async (name: string) =>
    Number((await sql<{ n: string }>(t, 'SELECT count(*) AS n FROM apps WHERE name = $1', [name]))[0].n);

  it('answers the same metadata from the same address with the same client: 201, its client_id, client_id_issued_at and metadata, no secret', async () => {
    const body = agent({ logo_uri: 'https://agent.example/logo.png', client_uri: 'https://agent.example' });
    const first = await registered(body);
    // Registered ten minutes ago: the answer says when, not now.
    const [{ issued_at: issuedAt }] = await sql<{ issued_at: number }>(t,
      `UPDATE apps SET created_at = created_at - interval '10 minutes' WHERE client_id = $1 RETURNING floor(extract(epoch FROM created_at))::int AS issued_at`,
      [first.body.client_id]);
    expect(issuedAt).toBeLessThan(first.body.client_id_issued_at);
    const again = await register(t, body);
    expect(again.status).toBe(201);
    expect(again.headers['cache-control']).toBe('no-store');
    expect(again.body).toEqual({ ...first.body, client_id_issued_at: issuedAt });
    expect(again.body).not.toHaveProperty('client_secret');
    expect(await appsNamed(body.client_name)).toBe(1);
  });

  it('recognises the same metadata with its lists in another order', async () => {
    const body = agent({ scope: 'openid offline_access' });
    const first = await registered(body);
    const reordered = { ...body, scope: 'offline_access openid', redirect_uris: [...body.redirect_uris].reverse(), grant_types: [...body.grant_types].reverse() };
    const again = await registered(reordered);
    expect(again.body.client_id).toBe(first.body.client_id);
    expect(again.body).toEqual(first.body);
  });

  it.each<[string, Record<string, unknown>]>([
    ['another client_name', { client_name: 'Someone else' }],
    ['another redirect URI', { redirect_uris: ['http://127.0.0.1:33419/callback'] }],
    ['one more redirect URI', { redirect_uris: ['http://127.0.0.1:33418/callback', 'http://localhost:33418/callback', 'http://[::1]:33418/callback'] }],
    ['other grant types', { grant_types: ['authorization_code'] }],
    ['another scope', { scope: 'openid' }],
    ['another application_type', { application_type: 'web' }],
    ['a logo_uri', { logo_uri: 'https://agent.example/logo.png' }],
    ['a client_uri', { client_uri: 'https://agent.example' }],
  ])('registers a new client for the same metadata but %s', async (_case, change) => {
    const body = agent();
    const first = await registered(body);
    const other = await registered({ ...body, ...change });
    expect(other.body.client_id).not.toBe(first.body.client_id);
    expect(other.body).not.toHaveProperty('client_secret');
    expect(await appCount([first.body.client_id, other.body.client_id])).toBe(2);
  });

  it.each(['client_secret_basic', 'client_secret_post'])('always registers a new confidential client (%s), with a secret of its own', async (method) => {
    const body = agent({ token_endpoint_auth_method: method, redirect_uris: ['https://agent.example/callback'], application_type: 'web' });
    const [first, second] = [await registered(body), await registered(body)];
    expect(second.body.client_id).not.toBe(first.body.client_id);
    expect(first.body.client_secret).toMatch(CLIENT_SECRET);
    expect(second.body.client_secret).toMatch(CLIENT_SECRET);
    expect(second.body.client_secret).not.toBe(first.body.client_secret);
    expect(await appsNamed(body.client_name)).toBe(2);
  });

  it('makes exactly one app of 10 identical registrations sent at once', async () => {
    const body = agent();
    const answers = await Promise.all(Array.from({ length: 10 }, () => register(t, body)));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(201));
    expect(new Set(answers.map((r) => r.body.client_id)).size).toBe(1);
    expect(new Set(answers.map((r) => r.body.client_id_issued_at)).size).toBe(1);
    expect(answers.filter((r) => 'client_secret' in r.body)).toEqual([]);
    expect(await appsNamed(body.client_name)).toBe(1);
  });

  it('never answers an app an admin deleted', async () => {
    const body = agent();
    const first = await registered(body);
    expect((await request(t.url).delete(`/api/v1/oauth2/apps/${await appIdOf(t, first.body.client_id)}`).set('Cookie', admin)).status).toBe(204);
    const again = await registered(body);
    expect(again.body.client_id).not.toBe(first.body.client_id);
    expect(await appCount([again.body.client_id])).toBe(1);
  });

  it('never answers an app the sweep removed', async () => {
    const body = agent();
    const first = await registered(body);
    // Registered two hours ago and never used: inside the window (a day), past OAUTH2_DCR_UNUSED_TTL.
    await sql(t, `UPDATE apps SET created_at = now() - interval '2 hours' WHERE client_id = $1`, [first.body.client_id]);
    await t.app.get(DcrCleanupService).sweep();
    expect(await appCount([first.body.client_id])).toBe(0);
    const again = await registered(body);
    expect(again.body.client_id).not.toBe(first.body.client_id);
  });

  it('never answers an app the sweep is about to remove', async () => {
    const body = agent();
    const first = await registered(body);
    await sql(t, `UPDATE apps SET created_at = now() - interval '2 hours' WHERE client_id = $1`, [first.body.client_id]);
    const again = await registered(body);
    expect(again.body.client_id).not.toBe(first.body.client_id);
  });

  it('still answers an app registered that long ago that has been used', async () => {
    const body = agent();
    const first = await registered(body);
    await sql(t, `UPDATE apps SET created_at = now() - interval '2 hours', last_used_at = now() - interval '1 hour' WHERE client_id = $1`, [first.body.client_id]);
    const again = await registered(body);
    expect(again.body.client_id).toBe(first.body.client_id);
  });

  it('never answers an app an admin reviewed into one of the organisation’s', async () => {
    const body = agent();
    const first = await registered(body);
    expect((await request(t.url).post(`/api/v1/oauth2/apps/${await appIdOf(t, first.body.client_id)}/review`).set('Cookie', admin)).status).toBe(200);
    const again = await registered(body);
    expect(again.body.client_id).not.toBe(first.body.client_id);
    expect(again.body).not.toHaveProperty('client_secret');
  });

  it('never answers an app whose metadata an admin changed since', async () => {
    const body = agent();
    const first = await registered(body);
    const id = await appIdOf(t, first.body.client_id);
    expect((await request(t.url).patch(`/api/v1/oauth2/apps/${id}`).set('Cookie', admin).send({ redirect_uris: ['http://127.0.0.1:40000/callback'] })).status).toBe(200);
    const again = await registered(body);
    expect(again.body.client_id).not.toBe(first.body.client_id);
    expect(again.body.redirect_uris).toEqual(body.redirect_uris);
  });
});

describe('registration: the re-registration window', () => {
  const body = { client_name: 'Windowed agent', redirect_uris: ['http://127.0.0.1:33418/callback'], token_endpoint_auth_method: 'none', application_type: 'native' };

  it('registers a new client every time at OAUTH2_DCR_REUSE_WINDOW=0', async () => {
    const t = await bootApp({ env: { ...DCR_ON, OAUTH2_DCR_REUSE_WINDOW: '0' } });
    try {
      const answers = [await register(t, body), await register(t, body), await register(t, body)];
      expect(answers.map((r) => r.status)).toEqual([201, 201, 201]);
      expect(new Set(answers.map((r) => r.body.client_id)).size).toBe(3);
    } finally {
      await t.close();
    }
  });

  it('registers a new client once the window has passed', async () => {
    const t = await bootApp({ env: { ...DCR_ON, OAUTH2_DCR_REUSE_WINDOW: '1s' } });
    try {
      const first = await register(t, body);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const later = await register(t, body);
      expect([first.status, later.status]).toEqual([201, 201]);
      expect(later.body.client_id).not.toBe(first.body.client_id);
    } finally {
      await t.close();
    }
  });

  it('forgets a registration\'s digest of its source address once the window has passed (the sweep)', async () => {
    const t = await bootApp({ env: { ...DCR_ON, OAUTH2_DCR_REUSE_WINDOW: '1s' } });
    try {
      const first = await register(t, body);
      const digest = async () => (await t.app.get(DataSource).query('SELECT registration_digest AS d FROM apps WHERE client_id = $1', [first.body.client_id]))[0].d as string | null;
      expect(await digest()).toMatch(/^[0-9a-f]{64}$/);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await t.app.get(DcrCleanupService).sweep();
      expect(await digest()).toBeNull();
    } finally {
      await t.close();
    }
  });

  it('tells sources apart by the address TRUST_PROXY gives (X-Forwarded-For from a trusted proxy here)', async () => {
    const t = await bootApp({ env: { ...DCR_ON, TRUST_PROXY: 'loopback' } });
    try {
      const from = (address: string) => register(t, body).set('X-Forwarded-For', address);
      const [a, b, aAgain] = [await from('203.0.113.7'), await from('198.51.100.9'), await from('203.0.113.7')];
      expect([a.status, b.status, aAgain.status]).toEqual([201, 201, 201]);
      expect(b.body.client_id).not.toBe(a.body.client_id);
      expect(aAgain.body.client_id).toBe(a.body.client_id);
    } finally {
      await t.close();
    }
  });
});
