import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { RegisteredApp } from '../helpers/clients';
import { DnsServer } from '../helpers/dns-server';
import { DocumentHost } from '../helpers/document-host';
import { signIn } from '../helpers/identity';
import { authorizeAndConsent, authorizeParams, getAuthorize, pkce } from '../helpers/oauth';
import { exchange, expectErrorPage, myAuthorizations, oauthError, refresh, WITH_REFRESH } from '../helpers/protocol';

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; issue 14 item 1): a client_id that is
 * an https URL is resolved by fetching it from a real HTTPS server on loopback (allowed by configuration), through
 * a real DNS server the test controls, so that names can be made to resolve anywhere.
 */

const REDIRECT = 'http://127.0.0.1:33418/callback';

let host: DocumentHost;
let dns: DnsServer;

beforeAll(async () => {
  host = await DocumentHost.start(['agent.example.test', 'intranet.example.test']);
  dns = await DnsServer.start({ localhost: '127.0.0.1', 'agent.example.test': '127.0.0.1', 'intranet.example.test': '10.0.0.5' });
});
afterAll(async () => {
  await host.close();
  await dns.close();
});

/** Documents on, loopback allowed: what a test bed (or an intranet deployment) configures. */
function documentsOn(extra: Record<string, string> = {}): Record<string, string> {
  return {
    OAUTH2_CIMD_ENABLED: 'true',
    OAUTH2_CIMD_ALLOWED_ADDRESSES: '127.0.0.1/32',
    OAUTH2_CIMD_TRUSTED_CA_FILE: host.caFile,
    OAUTH2_CIMD_DNS_SERVERS: dns.address,
    OAUTH2_CIMD_FETCH_TIMEOUT: '1',
    OAUTH2_CIMD_CACHE_MIN: '1',
    OAUTH2_CIMD_CACHE_MAX: '3',
    ...extra,
  };
}

const client = (clientId: string, redirectUri = REDIRECT): RegisteredApp => ({ id: clientId, clientId, redirectUri });

let serial = 0;
/** A fresh path per test, so that no test sees another's cached copy. */
const nextPath = (name: string) => `/clients/${name}-${++serial}.json`;

function authorize(t: TestApp, clientId: string, cookie?: string, extra: Record<string, string> = {}) {
  return getAuthorize(t, authorizeParams(client(clientId), pkce().challenge, { scope: 'openid profile', ...extra }), cookie);
}

/** The consent page's text without tags, spaces folded. */
const pageText = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&#x27;|’/g, "'").replace(/\s+/g, ' ');

const decodeJwt = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, unknown>;

describe('client metadata documents: the flow', () => {
  let t: TestApp;
  let cookie: string;
  beforeAll(async () => {
    t = await bootApp({ env: documentsOn() });
    cookie = await signIn(t);
  });
  afterAll(() => t.close());

  it('advertises client_id_metadata_document_supported', async () => {
    const res = await request(t.url).get('/.well-known/oauth-authorization-server');
    expect(res.body.client_id_metadata_document_supported).toBe(true);
  });

  it('runs the code flow for a client identified by its document: public, PKCE, the URL as client_id', async () => {
    const clientId = host.document(nextPath('flow'));
    const { code, verifier } = await authorizeAndConsent(t, client(clientId), cookie, WITH_REFRESH);
    const tokens = await exchange(t, client(clientId), code, verifier);
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.access_token)).toMatchObject({ client_id: clientId, sub: expect.any(String) });
    expect(tokens.body.refresh_token).toEqual(expect.any(String));
    const refreshed = await refresh(t, client(clientId), tokens.body.refresh_token);
    expect(refreshed.status).toBe(200);
  });

  it('shows the consent page as self-identified: the document host, the redirect host, the localhost warning, Deny first', async () => {
    const clientId = host.document(nextPath('consent'), { client_name: 'Agent Smith' });
    const res = await authorize(t, clientId, cookie);
    expect(res.status).toBe(200);
    const text = pageText(res.text);
    expect(text).toContain(`Identifies itself with a document at localhost:${host.port}`);
    expect(text).toContain('You will be sent back to an app on this computer ( 127.0.0.1:33418 )');
    expect(text).toContain('Not reviewed by your organisation.');
    expect(text).toContain('It runs on this computer: any program on your computer could claim to be it.');
    expect(res.text).toMatch(/value="deny" class="button primary"/);
  });

  it('gives no localhost warning to a document whose redirect URIs are on the web', async () => {
    const clientId = host.document(nextPath('web'), { redirect_uris: ['https://agent.example.net/callback'] });
    const res = await getAuthorize(t, authorizeParams(client(clientId, 'https://agent.example.net/callback'), pkce().challenge), cookie);
    expect(res.status).toBe(200);
    const text = pageText(res.text);
    expect(text).toContain('You will be sent to agent.example.net');
    expect(text).not.toContain('It runs on this computer');
  });

  it('never lets a document client ask for account or admin, whatever its document lists', async () => {
    const clientId = host.document(nextPath('greedy'), { scope: 'openid profile account admin offline_access' });
    const { code, verifier } = await authorizeAndConsent(t, client(clientId), cookie, { scope: 'openid profile' });
    expect((await exchange(t, client(clientId), code, verifier)).status).toBe(200);
    const apps = await request(t.url).get('/api/v1/oauth2/apps?per_page=100').set('Cookie', cookie);
    const app = (apps.body.items as Record<string, unknown>[]).find((a) => a.client_id === clientId);
    expect(app?.scope).toEqual(['openid', 'profile', 'offline_access']);
    // The user approved it above, so its redirect URI is vouched for: the refusal goes back to the client.
    const asked = await authorize(t, clientId, cookie, { scope: 'openid account' });
    expect(asked.status).toBe(303);
    expect(new URL(asked.headers.location as string).searchParams.get('error')).toBe('invalid_scope');
  });

  it('lists its grant with provenance cimd, and revoking the grant kills its refresh token', async () => {
    const clientId = host.document(nextPath('listed'));
    const { code, verifier } = await authorizeAndConsent(t, client(clientId), cookie, WITH_REFRESH);
    const tokens = (await exchange(t, client(clientId), code, verifier)).body;
    const listed = await myAuthorizations(t, { cookie });
    const grant = (listed.body.items as Record<string, unknown>[]).find((g) => g.app_client_id === clientId);
    expect(grant).toMatchObject({ app_provenance: 'cimd', app_name: 'Agent Smith' });
    const revoked = await request(t.url).delete(`/api/v0/users/me/oauth2/authorizations/${grant!.grant_id as string}`).set('Cookie', cookie).set('Origin', t.url);
    expect(revoked.status).toBe(204);
    expect((await refresh(t, client(clientId), tokens.refresh_token)).body).toEqual(oauthError('invalid_grant'));
  });

  it('refuses a redirect_uri the document does not list, on the error page', async () => {
    const clientId = host.document(nextPath('redirect'));
    const res = await getAuthorize(t, authorizeParams(client(clientId, 'https://evil.example.com/cb'), pkce().challenge), cookie);
    expectErrorPage(res);
    expect(res.text).toContain('return address is not registered');
  });

  it('shows the admin API the app as provenance cimd, and refuses to edit it there', async () => {
    const clientId = host.document(nextPath('admin'));
    await authorize(t, clientId, cookie);
    const apps = await request(t.url).get('/api/v1/oauth2/apps?per_page=100').set('Cookie', cookie);
    const app = (apps.body.items as Record<string, unknown>[]).find((a) => a.client_id === clientId);
    expect(app).toMatchObject({ provenance: 'cimd', token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT] });
    const patched = await request(t.url).patch(`/api/v1/oauth2/apps/${app!.id as string}`).set('Cookie', cookie).set('Origin', t.url).send({ name: 'Renamed' });
    expect(patched.status).toBe(400);
  });
});

describe('client metadata documents: what a document must be', () => {
  let t: TestApp;
  let cookie: string;
  beforeAll(async () => {
    t = await bootApp({ env: documentsOn() });
    cookie = await signIn(t);
  });
  afterAll(() => t.close());

  /** The error page of an unusable document, with the reason in its technical details; never a redirect. */
  async function expectRefused(clientId: string, reason: RegExp): Promise<void> {
    const res = await authorize(t, clientId, cookie);
    expectErrorPage(res);
    expect(res.text).toContain('This app could not be identified');
    expect(res.text).toMatch(reason);
  }

  it.each([
    ['its client_id is not its own URL', { client_id: 'https://other.example.com/client.json' }, /client_id is not its own URL/],
    ['it has no client_name', { client_name: undefined }, /no client_name/],
    ['it has no redirect_uris', { redirect_uris: undefined }, /no redirect_uris/],
    ['it names a secret-based authentication method', { token_endpoint_auth_method: 'client_secret_basic' }, /must be .{1,6}none/],
    ['it holds a client secret', { client_secret: 'hunter2' }, /must not contain a client secret/],
    ['a redirect URI is plain http off loopback', { redirect_uris: ['http://agent.example.net/cb'] }, /https/],
  ])('refuses a document when %s', async (_case, overrides, reason) => {
    await expectRefused(host.document(nextPath('invalid'), overrides), reason);
  });

  it('refuses a client_id that differs from the document\'s only in case', async () => {
    const path = nextPath('case');
    host.document(path);
    const upper = host.url(path).replace('/clients/', '/Clients/');
    host.set(new URL(upper).pathname, { json: { client_id: host.url(path), client_name: 'Case', redirect_uris: [REDIRECT] } });
    await expectRefused(upper, /client_id is not its own URL/);
  });

  it('refuses an http client_id URL without fetching it', async () => {
    const path = nextPath('http');
    await expectRefused(`http://localhost:${host.port}${path}`, /must use https/);
    expect(host.hitsOf(path)).toBe(0);
  });

  it('refuses a redirect from the document URL, without following it', async () => {
    const path = nextPath('moved');
    const target = host.document(nextPath('target'));
    host.set(path, { handle: (_req, res) => void res.writeHead(302, { location: target }).end() });
    await expectRefused(host.url(path), /redirect \(302\), which is not followed/);
    expect(host.hitsOf(new URL(target).pathname)).toBe(0);
  });

  it('refuses a document larger than 5 KiB', async () => {
    const clientId = host.document(nextPath('big'), { client_uri: `https://agent.example.net/${'a'.repeat(6000)}` });
    await expectRefused(clientId, /larger than 5120 bytes/);
  });

  it('refuses a document served slower than the fetch timeout, within a bounded time', async () => {
    const path = nextPath('slow');
    const timers: NodeJS.Timeout[] = [];
    host.set(path, { handle: (_req, res) => void timers.push(setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'), 10_000)) });
    await expectRefused(host.url(path), /did not answer within 1000 ms/);
    timers.forEach(clearTimeout);
  });

  it('refuses a document that is not served as JSON', async () => {
    const path = nextPath('html');
    host.set(path, { handle: (_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi</p>') });
    await expectRefused(host.url(path), /not served as application\/json/);
  });

  it('refuses a document the host no longer serves (404)', async () => {
    await expectRefused(host.url(nextPath('missing')), /answered 404/);
  });

  it('answers 401 invalid_client at the token endpoint for a client whose document cannot be used', async () => {
    const clientId = host.document(nextPath('token'), { client_id: 'https://someone.else/doc.json' });
    const res = await request(t.url).post('/oauth2/token').type('form').send({ grant_type: 'authorization_code', code: 'x', code_verifier: 'y'.repeat(43), client_id: clientId, redirect_uri: REDIRECT });
    expect(res.status).toBe(401);
    expect(res.body).toEqual(oauthError('invalid_client'));
  });
});

describe('client metadata documents: server-side request forgery', () => {
  let t: TestApp;
  let cookie: string;
  beforeAll(async () => {
    // No address allowed: what production runs with.
    t = await bootApp({ env: documentsOn({ OAUTH2_CIMD_ALLOWED_ADDRESSES: '' }) });
    cookie = await signIn(t);
  });
  afterAll(() => t.close());

  async function expectForbiddenAddress(clientId: string, reason: RegExp): Promise<void> {
    const res = await authorize(t, clientId, cookie);
    expectErrorPage(res);
    expect(res.text).toMatch(/its address is not allowed/);
    expect(res.text).toMatch(reason);
  }

  it('refuses a localhost document URL unless loopback is allowed', async () => {
    const path = nextPath('localhost');
    await expectForbiddenAddress(host.document(path), /127\.0\.0\.1 is a loopback address/);
    expect(host.hitsOf(path)).toBe(0);
  });

  it('refuses a name that DNS resolves to a loopback address', async () => {
    const path = nextPath('rebound');
    await expectForbiddenAddress(host.document(path, {}, { name: 'agent.example.test' }), /agent\.example\.test resolves to 127\.0\.0\.1 is a loopback address/);
    expect(host.hitsOf(path)).toBe(0);
  });

  it('refuses a name that DNS resolves to a private address', async () => {
    await expectForbiddenAddress(`https://intranet.example.test:${host.port}/clients/intranet.json`, /10\.0\.0\.5 is a private address/);
  });

  it.each([
    ['a private IPv4 literal', 'https://10.1.2.3/client.json', /10\.1\.2\.3 is a private address/],
    ['a link-local literal (cloud metadata)', 'https://169.254.169.254/latest/meta-data', /169\.254\.169\.254 is a linkLocal address/],
    ['an IPv6 loopback literal', 'https://[::1]:443/client.json', /::1 is a loopback address/],
    ['an IPv4-mapped IPv6 loopback', 'https://[::ffff:127.0.0.1]/client.json', /127\.0\.0\.1 is a loopback address/],
  ])('refuses %s without connecting', async (_case, clientId, reason) => {
    await expectForbiddenAddress(clientId, reason);
  });

  it('fetches the same document once loopback is allowed (the control)', async () => {
    const allowed = await bootApp({ env: documentsOn() });
    try {
      const allowedCookie = await signIn(allowed);
      const clientId = host.document(nextPath('control'), {}, { name: 'agent.example.test' });
      expect((await authorize(allowed, clientId, allowedCookie)).status).toBe(200);
    } finally {
      await allowed.close();
    }
  });
});

describe('client metadata documents: a domain allow-list', () => {
  let t: TestApp;
  let cookie: string;
  beforeAll(async () => {
    t = await bootApp({ env: documentsOn({ OAUTH2_CIMD_ALLOWED_DOMAINS: '*.example.test' }) });
    cookie = await signIn(t);
  });
  afterAll(() => t.close());

  it('accepts a document from a listed domain', async () => {
    const clientId = host.document(nextPath('listed-domain'), {}, { name: 'agent.example.test' });
    expect((await authorize(t, clientId, cookie)).status).toBe(200);
  });

  it('refuses a document from any other host without fetching it', async () => {
    const path = nextPath('other-domain');
    const res = await authorize(t, host.document(path), cookie);
    expectErrorPage(res);
    expect(res.text).toContain('documents from localhost are not accepted here');
    expect(host.hitsOf(path)).toBe(0);
  });
});

describe('client metadata documents: the shared cache', () => {
  let a: TestApp;
  let b: TestApp;
  let cookieA: string;
  let cookieB: string;
  beforeAll(async () => {
    a = await bootApp({ env: documentsOn() });
    b = await bootApp({ env: documentsOn(), databaseUrl: a.databaseUrl });
    cookieA = await signIn(a);
    cookieB = await signIn(b);
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('uses a fresh copy without fetching again, on this instance and on another', async () => {
    const path = nextPath('fresh');
    const clientId = host.document(path, {}, { headers: { 'cache-control': 'max-age=3600' } });
    expect((await authorize(a, clientId, cookieA)).status).toBe(200);
    expect((await authorize(a, clientId, cookieA)).status).toBe(200);
    expect((await authorize(b, clientId, cookieB)).status).toBe(200);
    expect(host.hitsOf(path)).toBe(1);
  });

  it('fetches a stale copy again, and what changed shows', async () => {
    const path = nextPath('stale');
    const clientId = host.document(path, { client_name: 'Old Name' }, { headers: { 'cache-control': 'no-cache' } });
    expect(pageText((await authorize(a, clientId, cookieA)).text)).toContain('Old Name');
    host.document(path, { client_name: 'New Name' }, { headers: { 'cache-control': 'no-cache' } });
    await sleep(1200); // past the floor of 1 s
    expect(pageText((await authorize(b, clientId, cookieB)).text)).toContain('New Name');
    expect(host.hitsOf(path)).toBe(2);
  });

  it('uses the cached copy while the host fails, and refuses once the copy is older than the ceiling', async () => {
    const path = nextPath('failing');
    const clientId = host.document(path, { client_name: 'Still Here' }, { headers: { 'cache-control': 'max-age=0' } });
    expect((await authorize(a, clientId, cookieA)).status).toBe(200);
    host.set(path, { json: { error: 'down' }, status: 503 });
    await sleep(1200);
    const during = await authorize(a, clientId, cookieA);
    expect(during.status).toBe(200);
    expect(pageText(during.text)).toContain('Still Here');
    await sleep(2200); // the copy is now older than the ceiling of 3 s
    const after = await authorize(b, clientId, cookieB);
    expectErrorPage(after);
    expect(after.text).toMatch(/answered 503/);
  });
});

describe('client metadata documents: off (the default)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp({ env: { OAUTH2_CIMD_TRUSTED_CA_FILE: host.caFile, OAUTH2_CIMD_ALLOWED_ADDRESSES: '127.0.0.1/32' } });
  });
  afterAll(() => t.close());

  it('does not advertise them and never fetches: a URL client_id is an unknown client', async () => {
    const path = nextPath('off');
    const clientId = host.document(path);
    expect((await request(t.url).get('/.well-known/oauth-authorization-server')).body.client_id_metadata_document_supported).toBeUndefined();
    const res = await authorize(t, clientId, await signIn(t));
    expectErrorPage(res);
    expect(res.text).toContain('not registered here');
    const token = await request(t.url).post('/oauth2/token').type('form').send({ grant_type: 'refresh_token', refresh_token: 'x', client_id: clientId });
    expect(token.status).toBe(401);
    expect(host.hitsOf(path)).toBe(0);
  });
});

