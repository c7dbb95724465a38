import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { createServiceAccount, createUser, loginForm, signIn } from '../helpers/identity';
import { authorizeAndConsent, authorizeParams, consentForm, getAuthorize, pkce } from '../helpers/oauth';
import {
  Answer, basicOf, BROKEN_BASIC, BROKEN_ESCAPES, changedTables, Database, expectWellFormedAnswer, Family, formEncode, headerString,
  HOSTILE_COOKIES, hostileString, jsonBody, JsonFields, options, Probe, PROPERTY_TIMEOUT_MS, randomRawBody, rawBodies, RawBody,
  unsignedJwt, wireParams,
} from './fuzz-helpers';

/**
 * SPEC §7: "malformed input of any kind (wrong types, huge bodies, bad encodings, NUL bytes, deep nesting, no body)
 * gets a 4xx with a clear message, never a 500". Property-based: every public endpoint and the /api routes get
 * seeded random and adversarial requests, built around real credentials so that some get deep into the code, and
 * every answer must be a success, a redirect or a refusal in the endpoint's own format (SPEC §2), in bounded time.
 * A refused request must leave the database as it found it, and no request may leave a half-written row.
 */

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

interface World {
  adminCookie: string;
  userCookie: string;
  adminUserId: string;
  user: { id: string; username: string; password: string };
  confidential: RegisteredApp;
  publicApp: RegisteredApp;
  /** A code issued and never redeemed, and its verifier: the first valid-by-chance exchange redeems it. */
  code: string;
  verifier: string;
  challenge: string;
  accessToken: string;
  refreshToken: string;
  idToken: string;
  /** The admin's principal token (every scope its role allows, `account` and `admin` among them). */
  principalToken: string;
  serviceAccountToken: string;
  consent: Record<string, string[]>;
  login: { csrfToken: string; cookie: string };
  /** The CSRF token of the user's session (the logout and /account/apps forms carry it) and one of the user's grants. */
  userCsrf: string;
  userGrantId: string;
  defaultOrgId: string;
  /** What the PATCH properties aim at, so that they never touch the admin or the apps the others use. */
  targets: { userId: string; orgId: string; serviceAccountId: string; appId: string };
}

/** A POST (or PATCH) endpoint for the raw bodies: its family, its own parameter names, a caller that gets past authentication. */
interface RawBodyEndpoint {
  readonly route: string;
  readonly family: Family;
  readonly names: string[];
  target(w: World): { method?: 'post' | 'patch'; path: string; headers: Record<string, string | undefined> };
}

const asClient = (w: World) => ({ Authorization: basic(w.confidential.clientId, w.confidential.clientSecret!) });
const asAdmin = (w: World) => ({ Cookie: w.adminCookie });

const RAW_BODY_ENDPOINTS: RawBodyEndpoint[] = [
  {
    route: 'POST /oauth2/token', family: 'oauth', names: ['grant_type', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope', 'client_id'],
    target: (w) => ({ path: '/oauth2/token', headers: asClient(w) }),
  },
  {
    route: 'POST /oauth2/token (client in the body)', family: 'oauth', names: ['client_id', 'client_secret', 'grant_type', 'scope'],
    target: () => ({ path: '/oauth2/token', headers: {} }),
  },
  {
    route: 'POST /oauth2/revoke', family: 'oauth', names: ['token', 'token_type_hint'],
    target: (w) => ({ path: '/oauth2/revoke', headers: asClient(w) }),
  },
  {
    route: 'POST /oauth2/introspect', family: 'oauth', names: ['token', 'token_type_hint'],
    target: (w) => ({ path: '/oauth2/introspect', headers: asClient(w) }),
  },
  {
    route: 'POST /oauth2/register', family: 'oauth', names: ['redirect_uris', 'client_name', 'grant_types', 'token_endpoint_auth_method', 'scope'],
    target: () => ({ path: '/oauth2/register', headers: {} }),
  },
  {
    route: 'POST /oauth2/userinfo', family: 'oauth', names: ['access_token'],
    target: (w) => ({ path: '/oauth2/userinfo', headers: { Authorization: `Bearer ${w.principalToken}` } }),
  },
  {
    route: 'POST /oauth2/authorize', family: 'page', names: ['client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'code_challenge', 'csrf_token', 'decision'],
    target: (w) => ({ path: '/oauth2/authorize', headers: { Cookie: w.userCookie } }),
  },
  {
    route: 'POST /login', family: 'page', names: ['username', 'password', 'csrf_token', 'return_to'],
    target: (w) => ({ path: '/login', headers: { Cookie: w.login.cookie } }),
  },
  {
    route: 'POST /logout', family: 'page', names: ['csrf_token'],
    target: () => ({ path: '/logout', headers: {} }),
  },
  {
    route: 'POST /account/apps/:id/revoke', family: 'page', names: ['csrf_token'],
    target: (w) => ({ path: `/account/apps/${w.userGrantId}/revoke`, headers: { Cookie: w.userCookie } }),
  },
  {
    route: 'POST /api/v1/users', family: 'problem', names: ['username', 'password', 'given_name', 'email', 'role', 'org_id'],
    target: (w) => ({ path: '/api/v1/users', headers: asAdmin(w) }),
  },
  {
    route: 'PATCH /api/v1/users/:id', family: 'problem', names: ['username', 'password', 'email', 'role'],
    target: (w) => ({ method: 'patch', path: `/api/v1/users/${w.targets.userId}`, headers: asAdmin(w) }),
  },
  {
    route: 'POST /api/v1/orgs', family: 'problem', names: ['name', 'display_name'],
    target: (w) => ({ path: '/api/v1/orgs', headers: asAdmin(w) }),
  },
  {
    route: 'POST /api/v1/service-accounts', family: 'problem', names: ['name', 'role', 'org_id'],
    target: (w) => ({ path: '/api/v1/service-accounts', headers: asAdmin(w) }),
  },
  {
    route: 'POST /api/v1/oauth2/apps', family: 'problem', names: ['name', 'redirect_uris', 'grant_types', 'scope', 'token_endpoint_auth_method'],
    target: (w) => ({ path: '/api/v1/oauth2/apps', headers: asAdmin(w) }),
  },
  {
    route: 'PATCH /api/v1/oauth2/apps/:id', family: 'problem', names: ['name', 'redirect_uris', 'scope'],
    target: (w) => ({ method: 'patch', path: `/api/v1/oauth2/apps/${w.targets.appId}`, headers: asAdmin(w) }),
  },
  {
    route: 'POST /api/v1/oauth2/authorize', family: 'problem', names: ['client_id', 'redirect_uri', 'response_type', 'scope', 'code_challenge'],
    target: (w) => ({ path: '/api/v1/oauth2/authorize', headers: asAdmin(w) }),
  },
  {
    route: 'POST /api/v1/oauth2/delegated-token', family: 'problem', names: ['sub', 'scopes', 'team_id'],
    target: (w) => ({ path: '/api/v1/oauth2/delegated-token', headers: asAdmin(w) }),
  },
  {
    route: 'POST /api/v0/users/me/oauth2/sessions/revoke-all', family: 'problem', names: ['all'],
    target: (w) => ({ path: '/api/v0/users/me/oauth2/sessions/revoke-all', headers: asAdmin(w) }),
  },
];

describe('fuzzing every public endpoint and the /api routes (SPEC §7)', () => {
  let t: TestApp;
  let db: Database;
  let w: World;

  beforeAll(async () => {
    t = await bootApp({ env: { OAUTH2_DCR_ENABLED: 'true', OAUTH2_DCR_RATE_LIMIT: '0' } });
    db = await Database.connect(t.databaseUrl);
    w = await buildWorld(t);
  }, PROPERTY_TIMEOUT_MS);
  afterAll(async () => {
    await db?.close();
    await t?.close();
  });

  /** Sends a probe that must answer well; a refusal (4xx) must not have changed a watched table. */
  async function probeWritingNothingOnRefusal(probe: Probe, family: Family): Promise<Answer> {
    const before = await db.snapshot();
    const res = await expectWellFormedAnswer(t, probe, family);
    if (res.status >= 400) {
      const changed = changedTables(before, await db.snapshot());
      if (changed.length) throw new Error(`${probe.method.toUpperCase()} ${probe.path} was refused with ${res.status} but changed ${changed.join('; ')}`);
    }
    return res;
  }

  async function expectNoHalfWrittenRows(): Promise<void> {
    expect(await db.halfWrittenRows()).toEqual([]);
  }

  // --- Credentials, in every shape --------------------------------------------------------------------------------

  /**
   * Client authentication for the token, revocation and introspection endpoints (RFC 6749 §2.3): HTTP Basic,
   * credentials in the body, both at once (refused), a public client's bare client_id, or none; real, wrong or
   * broken.
   */
  const clientAuth = (): fc.Arbitrary<{ authorization?: string; credentials: Record<string, string> }> => {
    const viaBasic = (authorization: string) => ({ authorization, credentials: {} });
    const confidential = { client_id: w.confidential.clientId, client_secret: w.confidential.clientSecret! };
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(viaBasic(basic(w.confidential.clientId, w.confidential.clientSecret!)), viaBasic(basic(w.publicApp.clientId, ''))) },
      { weight: 2, arbitrary: fc.constantFrom({ credentials: confidential }, { credentials: { client_id: w.publicApp.clientId } }) },
      { weight: 1, arbitrary: fc.constant({ authorization: basic(w.confidential.clientId, w.confidential.clientSecret!), credentials: confidential }) },
      { weight: 1, arbitrary: fc.constant({ credentials: {} }) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(w.confidential.clientId, w.publicApp.clientId), hostileString).map(([id, secret]) => viaBasic(basicOf(id, secret))) },
      { weight: 1, arbitrary: fc.tuple(hostileString, hostileString).map(([id, secret]) => viaBasic(basicOf(id, secret))) },
      // Not form-encoded first: raw '%', ':' and NUL reach the decoder.
      { weight: 1, arbitrary: fc.tuple(hostileString, hostileString).map(([id, secret]) => viaBasic(`Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`)) },
      { weight: 1, arbitrary: fc.constantFrom(...BROKEN_BASIC).map(viaBasic) },
    );
  };

  /** A client-authenticated request: the body's own fields plus the client's credentials, as a form or as JSON. */
  function clientRequest(path: string, type: string, body: string, auth: { authorization?: string; credentials: Record<string, string> }): Probe {
    const withCredentials = type === FORM
      ? [body, ...Object.entries(auth.credentials).map(([k, v]) => `${k}=${formEncode(v)}`)].filter(Boolean).join('&')
      : JSON.stringify({ ...(JSON.parse(body) as object), ...auth.credentials });
    return { method: 'post', path, headers: { 'Content-Type': type, Authorization: auth.authorization }, body: withCredentials };
  }

  /** Bearer tokens for userinfo and /api: real ones, forged ones, and values that are not tokens at all. */
  const bearer = () => fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(w.accessToken, w.principalToken, w.serviceAccountToken, w.refreshToken, w.idToken).map((token) => `Bearer ${token}`),
    fc.constantFrom(
      `Bearer ${unsignedJwt({ iss: t.url, sub: w.adminUserId, aud: t.url, scope: 'admin account openid', exp: 4102444800 })}`,
      `Bearer ${w.accessToken.split('.').slice(0, 2).join('.')}.AAAA`,
      `Bearer ${w.accessToken}x`, `bearer ${w.accessToken}`, `Bearer  ${w.accessToken}`, `Bearer ${w.accessToken}, Bearer x`,
      'Bearer', 'Bearer ', `Bearer ${'a.'.repeat(2000)}`, 'Bearer pcsa_', `Bearer pcsa_${randomUUID()}`, `Basic ${Buffer.from('a:b').toString('base64')}`,
    ),
    headerString.map((s) => `Bearer ${s}`),
  );

  /** Cookies for the pages: the user's session, none, or cookies the browser never sent. */
  const pageCookie = () => fc.oneof(
    fc.constant(undefined),
    { weight: 4, arbitrary: fc.constant(w.userCookie) },
    fc.constantFrom(...HOSTILE_COOKIES),
    fc.constant(`${w.userCookie}; session_id=j:{"a":1}`),
    headerString.map((s) => `session_id=${s}`),
  );

  /** The caller of an admin route: mostly the admin's session (no Origin header), sometimes a bearer of any kind. */
  const apiCaller = () => fc.oneof(
    { weight: 6, arbitrary: fc.constant<Record<string, string | undefined>>({ Cookie: w.adminCookie }) },
    { weight: 1, arbitrary: fc.constant<Record<string, string | undefined>>({ Authorization: `Bearer ${w.serviceAccountToken}` }) },
    { weight: 1, arbitrary: fc.constant<Record<string, string | undefined>>({ Authorization: `Bearer ${w.principalToken}` }) },
    { weight: 1, arbitrary: bearer().map((authorization) => ({ Authorization: authorization })) },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_COOKIES).map((cookie) => ({ Cookie: cookie })) },
  );

  /** One path segment for an id: the real one, another uuid, or anything else, encoded or broken; never empty. */
  const pathId = (real?: string) => fc.oneof(
    ...(real ? [{ weight: 4, arbitrary: fc.constant(real) }, { weight: 1, arbitrary: fc.constantFrom(real.toUpperCase(), `${real}%00`, `${real}%2F..`) }] : []),
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: hostileString.filter((s) => s.length > 0).map(formEncode) },
    { weight: 1, arbitrary: fc.constantFrom(...BROKEN_ESCAPES.filter((e) => !e.includes('&'))) },
  );

  /** A body as JSON (usually) or as a form that carries the same names. */
  const jsonOrForm = (fields: JsonFields) => fc.oneof(
    { weight: 4, arbitrary: jsonBody(fields).map((body) => ({ type: JSON_TYPE, body: JSON.stringify(body) })) },
    { weight: 1, arbitrary: wireParams(stringFields(fields)).map((body) => ({ type: FORM, body })) },
  );

  // --- The protocol endpoints ---------------------------------------------------------------------------------------

  describe('protocol endpoints answer RFC 6749 JSON errors', () => {
    const tokenFields = (): JsonFields => ({
      grant_type: ['authorization_code', 'refresh_token', 'client_credentials', 'password', 'implicit', 'urn:ietf:params:oauth:grant-type:device_code',
        'urn:ietf:params:oauth:grant-type:token-exchange', 'AUTHORIZATION_CODE'],
      code: [w.code],
      redirect_uri: [w.confidential.redirectUri, w.publicApp.redirectUri, `${w.confidential.redirectUri}/`],
      code_verifier: [w.verifier, 'a'.repeat(43), 'a'.repeat(129)],
      refresh_token: [w.refreshToken],
      scope: ['openid', 'openid offline_access', 'admin', 'openid  profile'],
      resource: ['https://api.example.com', 'https://api.example.com#frag', 'not a uri'],
      // Real credentials come from clientAuth(); here only hostile ones.
      client_id: [],
      client_secret: [],
    });

    // No snapshot here: a refused replay of a code or a rotated refresh token revokes what it minted, by design.
    it('POST /oauth2/token: any form body, with any client authentication', async () => {
      await fc.assert(fc.asyncProperty(wireParams(stringFields(tokenFields())), clientAuth(), async (body, auth) => {
        await expectWellFormedAnswer(t, clientRequest('/oauth2/token', FORM, body, auth), 'oauth');
      }), options(150));
      await expectNoHalfWrittenRows();
    }, PROPERTY_TIMEOUT_MS);

    it('POST /oauth2/token: any JSON body, with any client authentication', async () => {
      await fc.assert(fc.asyncProperty(jsonBody(tokenFields()), clientAuth(), async (body, auth) => {
        await expectWellFormedAnswer(t, clientRequest('/oauth2/token', JSON_TYPE, JSON.stringify(body), auth), 'oauth');
      }), options(120));
      await expectNoHalfWrittenRows();
    }, PROPERTY_TIMEOUT_MS);

    it.each(['/oauth2/revoke', '/oauth2/introspect'])('POST %s: any form or JSON body, with any client authentication', async (path) => {
      const fields: JsonFields = {
        token: [w.accessToken, w.refreshToken, w.idToken, w.code],
        token_type_hint: ['access_token', 'refresh_token', 'id_token', 'unknown'],
        client_id: [],
        client_secret: [],
      };
      await fc.assert(fc.asyncProperty(jsonOrForm(fields), clientAuth(), async ({ type, body }, auth) => {
        await probeWritingNothingOnRefusal(clientRequest(path, type, body, auth), 'oauth');
      }), options(80));
      await expectNoHalfWrittenRows();
    }, PROPERTY_TIMEOUT_MS);

    it('POST /oauth2/register: any client metadata (RFC 7591), and a refused registration leaves no app behind', async () => {
      const fields: JsonFields = {
        redirect_uris: [['https://dcr.example.com/cb'], ['http://127.0.0.1:8123/cb'], ['http://localhost/cb'], ['http://example.com/cb'], ['https://dcr.example.com/cb#f'],
          ['javascript:alert(1)'], [], ['https://a.example/cb', 'https://a.example/cb'], 'https://dcr.example.com/cb'],
        client_name: ['Fuzz DCR', ''],
        grant_types: [['authorization_code'], ['authorization_code', 'refresh_token'], ['client_credentials'], ['implicit'], []],
        response_types: [['code'], ['token'], []],
        token_endpoint_auth_method: ['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt'],
        scope: ['openid profile', 'openid offline_access', 'admin account', ''],
        logo_uri: ['https://dcr.example.com/logo.png', 'javascript:alert(1)'],
        client_uri: ['https://dcr.example.com', 'ftp://x'],
        application_type: ['web', 'native', 'service'],
        client_id: ['chosen-client-id'],
        client_secret: ['chosen-secret'],
        jwks: [{ keys: [] }],
        software_statement: ['eyJhbGciOiJub25lIn0.e30.'],
      };
      await fc.assert(fc.asyncProperty(jsonOrForm(fields), async ({ type, body }) => {
        await probeWritingNothingOnRefusal({ method: 'post', path: '/oauth2/register', headers: { 'Content-Type': type }, body }, 'oauth');
      }), options(100));
      await expectNoHalfWrittenRows();
    }, PROPERTY_TIMEOUT_MS);

    it('GET and POST /oauth2/userinfo: any bearer token, query and body', async () => {
      const query = wireParams({ access_token: [w.accessToken], schema: ['openid'], claims: ['{"userinfo":{"email":null}}'] });
      await fc.assert(fc.asyncProperty(fc.constantFrom('get' as const, 'post' as const), bearer(), query, async (method, authorization, params) => {
        const probe: Probe = method === 'get'
          ? { method, path: `/oauth2/userinfo?${params}`, headers: { Authorization: authorization } }
          : { method, path: '/oauth2/userinfo', headers: { Authorization: authorization, 'Content-Type': FORM }, body: params };
        await expectWellFormedAnswer(t, probe, 'oauth');
      }), options(100));
    }, PROPERTY_TIMEOUT_MS);

    it('GET discovery, JWKS, scopes and health: any query string and any issuer path, never HTML', async () => {
      // SPEC §2: a well-known URL answers JSON, never an HTML page; it sits outside /oauth2, so problem+json is its own.
      const wellKnown = (path: string) => ({ path, family: 'discovery' as const });
      const route = fc.oneof(
        fc.constantFrom(wellKnown('/.well-known/oauth-authorization-server'), wellKnown('/.well-known/openid-configuration')),
        fc.constantFrom({ path: '/oauth2/jwks', family: 'oauth' as const }, { path: '/oauth2/scopes', family: 'oauth' as const }),
        fc.constantFrom({ path: '/healthz', family: 'problem' as const }, { path: '/readyz', family: 'problem' as const }),
        fc.tuple(fc.constantFrom('/.well-known/oauth-authorization-server/', '/.well-known/openid-configuration/'), pathId()).map(([prefix, id]) => wellKnown(prefix + id)),
        pathId().map((id) => wellKnown(`/${id}/.well-known/openid-configuration`)),
      );
      const query = wireParams({ format: ['json'], kid: ['x'], issuer: [t.url] });
      await fc.assert(fc.asyncProperty(route, query, async ({ path, family }, q) => {
        await expectWellFormedAnswer(t, { method: 'get', path: `${path}?${q}` }, family);
      }), options(100));
    }, PROPERTY_TIMEOUT_MS);
  });

  // --- Raw bodies on every POST endpoint --------------------------------------------------------------------------

  describe('every POST endpoint answers hostile raw bodies with a refusal in its own format', () => {
    // Every fixed body is sent and every failure listed (one endpoint often fails several ways); random bodies
    // follow as a property.
    it.each(RAW_BODY_ENDPOINTS.map((e) => [e.route, e] as const))('%s', async (_route, endpoint) => {
      const { method = 'post', path, headers: caller } = endpoint.target(w);
      const attempt = async ({ label, headers, body, refused }: RawBody) => {
        const probe: Probe = { method, path, headers: { ...caller, ...headers, 'X-Fuzz-Case': label }, body };
        // The token endpoint is left out of the snapshot for the reason given above.
        const res = path === '/oauth2/token' ? await expectWellFormedAnswer(t, probe, endpoint.family) : await probeWritingNothingOnRefusal(probe, endpoint.family);
        if (refused === true && (res.status < 400 || res.status >= 500)) throw new Error(`answered ${res.status} instead of refusing it`);
        if (typeof refused === 'number' && res.status !== refused) throw new Error(`answered ${res.status} instead of ${refused}`);
      };
      const failures: string[] = [];
      for (const body of rawBodies(endpoint.names)) {
        await attempt(body).catch((e: Error) => failures.push(`${body.label}: ${e.message}`));
      }
      await fc.assert(fc.asyncProperty(randomRawBody, attempt), options(25)).catch((e: Error) => failures.push(e.message));
      expect(failures).toEqual([]);
    }, PROPERTY_TIMEOUT_MS);
  });

  // --- The pages ---------------------------------------------------------------------------------------------------

  describe('pages answer HTML, a redirect, or a refusal', () => {
    const authorizeFields = () => ({
      response_type: ['code', 'token', 'code id_token', ''],
      client_id: [w.confidential.clientId, w.publicApp.clientId, 'unknown-client'],
      redirect_uri: [w.confidential.redirectUri, w.publicApp.redirectUri, 'https://evil.example/cb', `${w.confidential.redirectUri}?x=1`],
      scope: ['openid', 'openid profile offline_access', 'admin', 'openid unknown-scope', ''],
      state: ['state-1', ''],
      code_challenge: [w.challenge, 'short', 'A'.repeat(129)],
      code_challenge_method: ['S256', 'plain', 's256'],
      prompt: ['none', 'consent', 'login', 'none consent', 'select_account'],
      nonce: ['nonce-1'],
      resource: ['https://api.example.com', 'https://api.example.com#frag', 'relative/path'],
      max_age: ['0', '-1', 'abc'],
      request: ['eyJhbGciOiJub25lIn0.e30.'],
    });

    it('GET /oauth2/authorize: any query string, with or without a session', async () => {
      await fc.assert(fc.asyncProperty(wireParams(authorizeFields()), pageCookie(), async (query, cookie) => {
        await probeWritingNothingOnRefusal({ method: 'get', path: `/oauth2/authorize?${query}`, headers: { Cookie: cookie } }, 'page');
      }), options(150));
      await expectNoHalfWrittenRows();
    }, PROPERTY_TIMEOUT_MS);

    it('POST /oauth2/authorize: any consent form, with or without the session and its CSRF token', async () => {
      const fields: Record<string, string[]> = { ...authorizeFields(), ...w.consent, decision: ['allow', 'deny', 'maybe'], confirm: ['yes', 'no'] };
      await fc.assert(fc.asyncProperty(wireParams(fields), pageCookie(), async (form, cookie) => {
        await probeWritingNothingOnRefusal({ method: 'post', path: '/oauth2/authorize', headers: { Cookie: cookie, 'Content-Type': FORM }, body: form }, 'page');
      }), options(120));
      await expectNoHalfWrittenRows();
    }, PROPERTY_TIMEOUT_MS);

    it('GET and POST /login: any return_to and any form, with or without the CSRF cookie', async () => {
      // Never the admin's name: its sign-in limit must stay untouched for the rest of the file.
      const fields = { username: [w.user.username, 'nobody'], password: [w.user.password, 'wrong-password'], csrf_token: [w.login.csrfToken], return_to: ['/', '/account/apps', '//evil.example', 'https://evil.example/', '/\\evil.example', '/%2F%2Fevil.example'] };
      const cookie = fc.oneof(fc.constant(w.login.cookie), fc.constantFrom(...HOSTILE_COOKIES), fc.constant(undefined));
      await fc.assert(fc.asyncProperty(fc.boolean(), wireParams(fields), cookie, async (get, params, c) => {
        const probe: Probe = get
          ? { method: 'get', path: `/login?${params}`, headers: { Cookie: c } }
          : { method: 'post', path: '/login', headers: { Cookie: c, 'Content-Type': FORM }, body: params };
        await expectWellFormedAnswer(t, probe, 'page');
      }), options(100));
      await expectNoHalfWrittenRows();
    }, PROPERTY_TIMEOUT_MS);

    it('GET /, POST /logout, GET /account/apps and POST /account/apps/:id/revoke: any form, id and cookie', async () => {
      const route = fc.oneof(
        fc.constant({ method: 'get' as const, path: '/' }),
        fc.constant({ method: 'post' as const, path: '/logout' }),
        wireParams({ revoked: ['1', '0'] }).map((q) => ({ method: 'get' as const, path: `/account/apps?${q}` })),
        pathId(w.userGrantId).map((id) => ({ method: 'post' as const, path: `/account/apps/${id}/revoke` })),
      );
      // A hostile CSRF token only: the user's session and grant must survive for the other pages.
      const form = wireParams({ csrf_token: [`${w.userCsrf}x`, w.userCsrf.slice(1)] });
      await fc.assert(fc.asyncProperty(route, form, pageCookie(), async ({ method, path }, body, cookie) => {
        const probe: Probe = method === 'get' ? { method, path, headers: { Cookie: cookie } } : { method, path, headers: { Cookie: cookie, 'Content-Type': FORM }, body };
        await probeWritingNothingOnRefusal(probe, 'page');
      }), options(100));
      await expectNoHalfWrittenRows();
    }, PROPERTY_TIMEOUT_MS);
  });

  // --- The /api routes ---------------------------------------------------------------------------------------------

  describe('/api routes answer problem+json, and a refused request writes nothing', () => {
    /** One admin-API property: a route (with an id or not), a body, a caller; each sent alone, with a snapshot. */
    async function fuzzApi(paths: fc.Arbitrary<{ method: Probe['method']; path: string }>, fields: JsonFields, numRuns: number): Promise<void> {
      await fc.assert(fc.asyncProperty(paths, jsonOrForm(fields), apiCaller(), async ({ method, path }, { type, body }, caller) => {
        await probeWritingNothingOnRefusal({ method, path, headers: { ...caller, 'Content-Type': type }, body }, 'problem');
      }), options(numRuns));
      await expectNoHalfWrittenRows();
    }

    const userFields = (): JsonFields => ({
      username: ['fuzz-created-1', 'fuzz-created-2', 'admin', 'ADMIN', w.user.username, 'a'.repeat(65), '-starts-with-dash'],
      password: ['a-good-password-1', 'short', 'é'.repeat(40)],
      given_name: ['Fuzz', ''],
      family_name: ['Tester'],
      email: ['fuzz@example.com', 'not-an-email'],
      role: ['user', 'admin', 'root'],
      org_id: [w.defaultOrgId, w.targets.orgId, randomUUID(), 'not-a-uuid'],
    });

    it('POST /api/v1/users: any body', async () => {
      await fuzzApi(fc.constant({ method: 'post', path: '/api/v1/users' }), userFields(), 80);
    }, PROPERTY_TIMEOUT_MS);

    it('PATCH /api/v1/users/:id: any id and any body', async () => {
      await fuzzApi(pathId(w.targets.userId).map((id) => ({ method: 'patch', path: `/api/v1/users/${id}` })), userFields(), 80);
    }, PROPERTY_TIMEOUT_MS);

    it('POST and PATCH /api/v1/orgs: any id and any body', async () => {
      const route = fc.oneof(fc.constant({ method: 'post' as const, path: '/api/v1/orgs' }), pathId(w.targets.orgId).map((id) => ({ method: 'patch' as const, path: `/api/v1/orgs/${id}` })));
      await fuzzApi(route, { name: ['fuzz-org-1', 'default', 'DEFAULT', 'a b'], display_name: ['Fuzz Org', '', 'x'.repeat(201)] }, 80);
    }, PROPERTY_TIMEOUT_MS);

    it('POST and PATCH /api/v1/service-accounts: any id and any body', async () => {
      const route = fc.oneof(
        fc.constant({ method: 'post' as const, path: '/api/v1/service-accounts' }),
        pathId(w.targets.serviceAccountId).map((id) => ({ method: 'patch' as const, path: `/api/v1/service-accounts/${id}` })),
      );
      await fuzzApi(route, { name: ['fuzz-sa-1', 'fuzz-sa', 'a/b'], role: ['user', 'admin', 'owner'], org_id: [w.defaultOrgId, randomUUID(), 'nope'] }, 80);
    }, PROPERTY_TIMEOUT_MS);

    const appFields = (): JsonFields => ({
      name: ['fuzz-api-app', ''],
      display_name: ['Fuzz API App'],
      org_id: [w.defaultOrgId, w.targets.orgId, randomUUID(), 'not-a-uuid'],
      redirect_uris: [['https://fuzz.example.com/cb'], ['http://127.0.0.1:9000/cb'], ['http://example.com/cb'], ['https://fuzz.example.com/cb#f'], ['javascript:alert(1)'], [], 'https://fuzz.example.com/cb'],
      grant_types: [['authorization_code'], ['authorization_code', 'refresh_token'], ['client_credentials'], ['implicit'], [], 'authorization_code'],
      response_types: [['code'], ['token']],
      token_endpoint_auth_method: ['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt'],
      scope: ['openid profile', ['openid', 'offline_access'], 'admin account', 'unknown-scope', ''],
      logo_uri: ['https://fuzz.example.com/logo.png', 'javascript:alert(1)', 'data:image/png;base64,AAAA'],
      client_uri: ['https://fuzz.example.com'],
      application_type: ['web', 'native', 'desktop'],
    });

    it('POST /api/v1/oauth2/apps: any body', async () => {
      await fuzzApi(fc.constant({ method: 'post', path: '/api/v1/oauth2/apps' }), appFields(), 80);
    }, PROPERTY_TIMEOUT_MS);

    it('PATCH /api/v1/oauth2/apps/:id: any id and any body', async () => {
      await fuzzApi(pathId(w.targets.appId).map((id) => ({ method: 'patch', path: `/api/v1/oauth2/apps/${id}` })), appFields(), 80);
    }, PROPERTY_TIMEOUT_MS);

    it('POST /api/v1/oauth2/authorize: any JSON authorization request', async () => {
      await fuzzApi(fc.constant({ method: 'post', path: '/api/v1/oauth2/authorize' }), {
        client_id: [w.confidential.clientId, w.publicApp.clientId, 'unknown-client'],
        redirect_uri: [w.confidential.redirectUri, w.publicApp.redirectUri, 'https://evil.example/cb'],
        response_type: ['code', 'token'],
        scope: [['openid'], ['openid', 'profile', 'offline_access'], ['admin'], ['openid', 'openid'], 'openid'],
        state: ['state-1'],
        code_challenge: [w.challenge, 'short'],
        code_challenge_method: ['S256', 'plain'],
        nonce: ['nonce-1'],
        resource: ['https://api.example.com', 'https://api.example.com#frag'],
      }, 80);
    }, PROPERTY_TIMEOUT_MS);

    it('POST /api/v1/oauth2/delegated-token: any body', async () => {
      await fuzzApi(fc.constant({ method: 'post', path: '/api/v1/oauth2/delegated-token' }), {
        sub: [w.user.id, w.adminUserId, randomUUID(), 'not-a-uuid'],
        scopes: [['openid'], ['openid', 'profile'], ['admin'], [], ['unknown-scope']],
        team_id: ['team-1'],
      }, 60);
    }, PROPERTY_TIMEOUT_MS);

    it('/api/v0/users/me/oauth2/...: any id and body, with the session or any bearer', async () => {
      const route = fc.oneof(
        fc.constantFrom(
          { method: 'get' as const, path: '/api/v0/users/me/oauth2/authorizations' },
          { method: 'get' as const, path: '/api/v0/users/me/oauth2/sessions' },
          { method: 'post' as const, path: '/api/v0/users/me/oauth2/sessions/revoke-all' },
          { method: 'get' as const, path: '/api/v1/oauth2/principal-token' },
        ),
        pathId().map((id) => ({ method: 'delete' as const, path: `/api/v0/users/me/oauth2/authorizations/${id}` })),
        pathId().map((id) => ({ method: 'delete' as const, path: `/api/v0/users/me/oauth2/sessions/${id}` })),
      );
      await fuzzApi(route, { all: ['true'] }, 80);
    }, PROPERTY_TIMEOUT_MS);

    it('every /api route with an id: any id, any query string', async () => {
      // Ids of nothing only: a DELETE by chance must not remove what the other properties aim at.
      const route = fc.tuple(
        fc.constantFrom(
          ...['/api/v1/users/:id', '/api/v1/orgs/:id', '/api/v1/service-accounts/:id', '/api/v1/oauth2/apps/:id'].flatMap((path) =>
            (['get', 'patch', 'delete'] as const).map((method) => ({ method, path }))),
          { method: 'post' as const, path: '/api/v1/service-accounts/:id/revoke' },
          { method: 'post' as const, path: '/api/v1/oauth2/apps/:id/secret' },
        ),
        pathId(),
        wireParams({ page: ['1', '0', '-1', '99999999999999999999'], per_page: ['10', '0', '1000'], limit: ['1'], cursor: ['abc'] }),
      ).map(([{ method, path }, id, query]) => ({ method, path: `${path.replace(':id', id)}?${query}` }));
      await fuzzApi(route, { name: ['x'] }, 100);
    }, PROPERTY_TIMEOUT_MS);

    it('the /api collections: any query string', async () => {
      const route = fc.tuple(
        fc.constantFrom('/api/v1/users', '/api/v1/orgs', '/api/v1/service-accounts', '/api/v1/oauth2/apps'),
        wireParams({ page: ['1', '0', '-1', '1.5', '99999999999999999999'], per_page: ['10', '0', '-5', '1000', '1e3'], org_id: [w.defaultOrgId, 'x'], q: ['a'] }),
      ).map(([path, query]) => ({ method: 'get' as const, path: `${path}?${query}` }));
      await fuzzApi(route, {}, 60);
    }, PROPERTY_TIMEOUT_MS);
  });
});

/** The string form of JSON fields, for the form-encoded variant of the same request. */
function stringFields(fields: JsonFields): Record<string, string[]> {
  return Object.fromEntries(Object.entries(fields).map(([name, values]) => [name, values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)))]));
}

/**
 * Real credentials and rows for the properties to aim at: an admin and a user with sessions, a confidential and a
 * public app, an unredeemed code, live tokens, a consent form with its CSRF token, and PATCH targets of each kind.
 */
async function buildWorld(t: TestApp): Promise<World> {
  const adminCookie = await signIn(t);
  const confidential = await createApp(t, adminCookie, {
    name: 'fuzz-confidential', grant_types: ['authorization_code', 'refresh_token', 'client_credentials'], scope: 'openid profile email offline_access',
  });
  const publicApp = await createApp(t, adminCookie, { name: 'fuzz-public', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1:8765/cb'], grant_types: ['authorization_code', 'refresh_token'] });
  const user = await createUser(t, adminCookie, { username: 'fuzz-user' });
  const userCookie = await signIn(t, user.username, user.password);

  const first = await authorizeAndConsent(t, confidential, adminCookie, { scope: 'openid offline_access' });
  const tokens = await request(t.url).post('/oauth2/token').type('form').set('Authorization', basic(confidential.clientId, confidential.clientSecret!))
    .send({ grant_type: 'authorization_code', code: first.code, code_verifier: first.verifier, redirect_uri: confidential.redirectUri });
  if (tokens.status !== 200) throw new Error(`token exchange failed: ${tokens.status} ${tokens.text}`);
  const unredeemed = await authorizeAndConsent(t, confidential, adminCookie, { scope: 'openid offline_access' });

  // The user approves once (a grant for /account/apps), then a consent page is rendered again for its form.
  await authorizeAndConsent(t, confidential, userCookie, { scope: 'openid' });
  const { challenge } = pkce();
  const page = await getAuthorize(t, authorizeParams(confidential, challenge, { scope: 'openid profile', prompt: 'consent' }), userCookie);
  if (page.status !== 200) throw new Error(`no consent page: ${page.status}`);
  const consent = consentForm(page.text);
  const apps = await request(t.url).get('/account/apps').set('Cookie', userCookie);
  const userGrantId = /href="\/account\/apps\/([^/]+)\/revoke"/.exec(apps.text)?.[1];
  const confirmation = await request(t.url).get(`/account/apps/${userGrantId}/revoke`).set('Cookie', userCookie);
  const userCsrf = /name="csrf_token" value="([^"]+)"/.exec(confirmation.text)?.[1];
  if (!userGrantId || !userCsrf) throw new Error(`no grant on /account/apps: ${apps.status} ${confirmation.status}`);

  const principal = await request(t.url).get('/api/v1/oauth2/principal-token').set('Cookie', adminCookie);
  if (principal.status !== 200) throw new Error(`no principal token: ${principal.status} ${principal.text}`);
  const serviceAccount = await createServiceAccount(t, adminCookie, 'fuzz-sa', 'admin');
  const me = await request(t.url).get('/api/v1/users').query({ per_page: 100 }).set('Cookie', adminCookie);
  const adminUserId = (me.body.items as { id: string; username: string }[]).find((u) => u.username === 'admin')!.id;
  const orgs = await request(t.url).get('/api/v1/orgs').set('Cookie', adminCookie);
  const defaultOrgId = (orgs.body.items as { id: string; name: string }[]).find((o) => o.name === 'default')!.id;

  const targetOrg = await request(t.url).post('/api/v1/orgs').set('Cookie', adminCookie).send({ name: 'fuzz-target-org' });
  const targetUser = await createUser(t, adminCookie, { username: 'fuzz-target-user' });
  const targetServiceAccount = await createServiceAccount(t, adminCookie, 'fuzz-target-sa');
  const targetApp = await createApp(t, adminCookie, { name: 'fuzz-target-app' });

  return {
    adminCookie, userCookie, adminUserId, user, confidential, publicApp,
    code: unredeemed.code, verifier: unredeemed.verifier, challenge,
    accessToken: tokens.body.access_token, refreshToken: tokens.body.refresh_token, idToken: tokens.body.id_token,
    principalToken: principal.body.access_token, serviceAccountToken: serviceAccount.token,
    consent, login: await loginForm(t), userCsrf, userGrantId, defaultOrgId,
    targets: { userId: targetUser.id, orgId: targetOrg.body.id, serviceAccountId: targetServiceAccount.id, appId: targetApp.id },
  };
}
