import request from 'supertest';
import { MaintenanceService } from '../../src/token/maintenance.service';
import { bootApp, TestApp } from '../helpers/app';
import { DatabaseNotifications } from '../../src/database/notifications.service';
import { createApp, RegisteredApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { DnsServer } from '../helpers/dns-server';
import { DocumentHost } from '../helpers/document-host';
import { createServiceAccount, createUser, loginForm, postLogin, signIn } from '../helpers/identity';
import { authorizeAndConsent, authorizeParams, consentForm, getAuthorize, locationParams, pkce, postDecision } from '../helpers/oauth';
import { exchange, grantIdOf, issueTokens, refresh, registerApp, revoke, rotate } from '../helpers/protocol';
import { expectProblem, field } from '../helpers/problem';

/**
 * The audit trail (issue 15 item 3): every event type is produced by its real action over HTTP — with who, whom,
 * which client, the source address and the request id — and is absent, from the table and from the log, when the
 * action fails; the API lists events by every filter, page by page; a user sees only their own; old events are
 * pruned.
 */

interface EventRow {
  id: string;
  occurred_at: Date;
  type: string;
  outcome: string;
  actor_type: string;
  actor_id: string | null;
  actor_name: string | null;
  subject_user_id: string | null;
  client_id: string | null;
  source_address: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

interface Expected {
  type: string;
  outcome?: 'success' | 'failure';
  actor: { type: string; id?: string | null; name?: string | null };
  subject?: string | null;
  client?: string | null;
  details?: Record<string, unknown>;
}

let host: DocumentHost;
let dns: DnsServer;
let t: TestApp;
let admin: string;
let adminId: string;
let serial = 0;
const unique = (name: string) => `${name}-${++serial}`;

beforeAll(async () => {
  host = await DocumentHost.start();
  dns = await DnsServer.start({ localhost: '127.0.0.1' });
  t = await bootApp({
    env: {
      OAUTH2_DCR_ENABLED: 'true', OAUTH2_DCR_RATE_LIMIT: '0',
      OAUTH2_CIMD_ENABLED: 'true', OAUTH2_CIMD_ALLOWED_ADDRESSES: '127.0.0.1/32', OAUTH2_CIMD_TRUSTED_CA_FILE: host.caFile,
      OAUTH2_CIMD_DNS_SERVERS: dns.address, OAUTH2_CIMD_CACHE_MIN: '5m', OAUTH2_CIMD_CACHE_MAX: '1h',
      // Behind a proxy on loopback: the source address is the client's, from X-Forwarded-For.
      TRUST_PROXY: 'loopback',
    },
  });
  admin = await signIn(t);
  [{ id: adminId }] = await sql<{ id: string }>(t, `SELECT id FROM users WHERE username = 'admin'`);
});
afterAll(async () => {
  await t.close();
  await host.close();
  await dns.close();
});

const requestIdOf = (res: request.Response) => res.headers['x-request-id'] as string;

/** The events a request caused, oldest first. */
const eventsOf = (res: request.Response) =>
  sql<EventRow>(t, 'SELECT * FROM audit_events WHERE request_id = $1 ORDER BY occurred_at, id', [requestIdOf(res)]);

/** The "audit event" log lines a request caused. */
function auditLinesOf(res: request.Response): { audit: Record<string, unknown> }[] {
  return t.logs.entries().filter((e) => e.msg === 'audit event' && (e.audit as { requestId?: string }).requestId === requestIdOf(res)) as never;
}

/**
 * The one event `res` caused, as stored and as logged: its type and outcome, who acted, whom and which client it
 * was about, from the request's address, with its id.
 */
async function expectEvent(res: request.Response, expected: Expected, sourceAddress = '127.0.0.1'): Promise<EventRow> {
  const rows = await eventsOf(res);
  expect(rows.map((r) => r.type)).toEqual([expected.type]);
  const [row] = rows;
  expect(row).toMatchObject({
    type: expected.type,
    outcome: expected.outcome ?? 'success',
    actor_type: expected.actor.type,
    ...(expected.actor.id !== undefined ? { actor_id: expected.actor.id } : {}),
    ...(expected.actor.name !== undefined ? { actor_name: expected.actor.name } : {}),
    subject_user_id: expected.subject ?? null,
    client_id: expected.client ?? null,
    source_address: sourceAddress,
    request_id: requestIdOf(res),
  });
  if (expected.details) expect(row.details).toEqual(expected.details);
  const lines = auditLinesOf(res);
  expect(lines).toHaveLength(1);
  expect(lines[0].audit).toMatchObject({
    id: row.id, type: row.type, outcome: row.outcome, actor: { type: row.actor_type, id: row.actor_id, name: row.actor_name },
    subjectUserId: row.subject_user_id, clientId: row.client_id, sourceAddress: row.source_address, details: row.details,
  });
  return row;
}

/** A refused request left no event behind, in the table or the log. */
async function expectNoEvent(res: request.Response): Promise<void> {
  expect(await eventsOf(res)).toEqual([]);
  expect(auditLinesOf(res)).toEqual([]);
}

const adminActor = () => ({ type: 'user', id: adminId, name: 'admin' });

async function newUser(role: 'admin' | 'user' = 'user') {
  const user = await createUser(t, admin, { username: unique('user'), role });
  return { ...user, actor: { type: 'user', id: user.id, name: user.username } };
}

async function newClient(metadata: Record<string, unknown> = {}): Promise<RegisteredApp> {
  return createApp(t, admin, { name: unique('app'), grant_types: ['authorization_code', 'refresh_token'], ...metadata });
}

const clientActorOf = (client: RegisteredApp, name: string) => ({ type: 'client', id: client.clientId, name });

describe('every event type, produced by its action', () => {
  describe('sign-in', () => {
    it('sign_in.succeeded: the user who signed in, from the address the proxy names', async () => {
      const bob = await newUser();
      const form = await loginForm(t);
      const res = await request(t.url).post('/login').set('Cookie', form.cookie).set('X-Forwarded-For', '203.0.113.7').type('form')
        .send({ username: bob.username, password: bob.password, csrf_token: form.csrfToken, return_to: '/' });
      expect(res.status).toBe(303);
      await expectEvent(res, { type: 'sign_in.succeeded', actor: bob.actor, subject: bob.id }, '203.0.113.7');
    });

    it('sign_in.failed: nobody known acting, against the user the username names', async () => {
      const bob = await newUser();
      const res = await postLogin(t, bob.username.toUpperCase(), 'not-the-password');
      expect(res.status).toBe(401);
      await expectEvent(res, {
        type: 'sign_in.failed', outcome: 'failure', actor: { type: 'anonymous', id: null, name: null }, subject: bob.id,
        details: { username: bob.username, reason: 'wrong_password' },
      });
    });

    it('sign_in.failed for a username that names nobody: the string is not recorded (it may be a password)', async () => {
      const res = await postLogin(t, 'Tr0ub4dor-typed-in-the-wrong-field', 'whatever-1');
      expect(res.status).toBe(401);
      await expectEvent(res, { type: 'sign_in.failed', outcome: 'failure', actor: { type: 'anonymous' }, subject: null, details: { reason: 'unknown_username' } });
      expect(JSON.stringify(await eventsOf(res))).not.toContain('Tr0ub4dor');
    });

    it('no event for a form that never reached the credentials (no CSRF token)', async () => {
      const bob = await newUser();
      const res = await request(t.url).post('/login').type('form').send({ username: bob.username, password: 'wrong-password-1' });
      expect(res.status).toBe(403);
      await expectNoEvent(res);
    });

    it('sign_in.locked_out: once, on the attempt that used up the limit, not on the refused ones after it', async () => {
      const carol = await newUser();
      for (let i = 0; i < 10; i++) expect((await postLogin(t, carol.username, `wrong-${i}-password`)).status).toBe(401);
      const locked = await postLogin(t, carol.username, 'wrong-again-password');
      expect(locked.status).toBe(429);
      await expectEvent(locked, {
        type: 'sign_in.locked_out', outcome: 'failure', actor: { type: 'anonymous' }, subject: carol.id,
        details: { limit: 'address_and_username', retry_after_seconds: expect.any(Number), username: carol.username },
      });
      const stillLocked = await postLogin(t, carol.username, carol.password);
      expect(stillLocked.status).toBe(429);
      await expectNoEvent(stillLocked);
    });
  });

  describe('consent', () => {
    async function consentPage(user: { username: string; password: string }, client: RegisteredApp) {
      const cookie = await signIn(t, user.username, user.password);
      const page = await getAuthorize(t, authorizeParams(client, pkce().challenge, { scope: 'openid profile' }), cookie);
      expect(page.status).toBe(200);
      return { cookie, fields: consentForm(page.text) };
    }

    it('consent.granted: the user, the app, the scopes and audiences', async () => {
      const bob = await newUser();
      const client = await newClient();
      const { cookie, fields } = await consentPage(bob, client);
      const res = await postDecision(t, cookie, fields, { decision: 'allow' });
      expect(locationParams(res).params.code).toEqual(expect.any(String));
      await expectEvent(res, {
        type: 'consent.granted', actor: bob.actor, subject: bob.id, client: client.clientId,
        details: { scopes: ['openid', 'profile'], resources: [t.config.authorizationServer.issuerUrl] },
      });
    });

    it('consent.granted through the JSON authorize API, as the signed-in user', async () => {
      const bob = await newUser();
      const client = await newClient();
      const cookie = await signIn(t, bob.username, bob.password);
      const res = await request(t.url).post('/api/v1/oauth2/authorize').set('Cookie', cookie)
        .send({ client_id: client.clientId, redirect_uri: client.redirectUri, response_type: 'code', scope: ['openid'], state: 's', code_challenge: pkce().challenge, code_challenge_method: 'S256' });
      expect(res.status).toBe(200);
      await expectEvent(res, { type: 'consent.granted', actor: bob.actor, subject: bob.id, client: client.clientId });
    });

    it('consent.denied: the user said no', async () => {
      const bob = await newUser();
      const client = await newClient();
      const { cookie, fields } = await consentPage(bob, client);
      const res = await postDecision(t, cookie, fields, { decision: 'deny' });
      expect(locationParams(res).params.error).toBe('access_denied');
      await expectEvent(res, { type: 'consent.denied', outcome: 'failure', actor: bob.actor, subject: bob.id, client: client.clientId });
    });

    it('no event for a decision without the session\'s CSRF token', async () => {
      const bob = await newUser();
      const client = await newClient();
      const { cookie, fields } = await consentPage(bob, client);
      const res = await postDecision(t, cookie, { ...fields, csrf_token: ['forged'] }, { decision: 'allow' });
      expect(res.status).toBe(403);
      await expectNoEvent(res);
    });
  });

  describe('revocations', () => {
    it('grant.revoked: through the API, with the app it was for', async () => {
      const bob = await newUser();
      const client = await newClient();
      const cookie = await signIn(t, bob.username, bob.password);
      await authorizeAndConsent(t, client, cookie);
      const grantId = await grantIdOf(t, cookie, client);
      const res = await request(t.url).delete(`/api/v0/users/me/oauth2/authorizations/${grantId}`).set('Cookie', cookie);
      expect(res.status).toBe(204);
      await expectEvent(res, { type: 'grant.revoked', actor: bob.actor, subject: bob.id, client: client.clientId, details: { grant_id: grantId, scopes: ['openid', 'profile'] } });
    });

    it('grant.revoked: on the connected-apps page, as the signed-in user', async () => {
      const bob = await newUser();
      const client = await newClient();
      const cookie = await signIn(t, bob.username, bob.password);
      await authorizeAndConsent(t, client, cookie);
      const grantId = await grantIdOf(t, cookie, client);
      const confirm = await request(t.url).get(`/account/apps/${grantId}/revoke`).set('Cookie', cookie);
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(confirm.text)![1];
      const res = await request(t.url).post(`/account/apps/${grantId}/revoke`).set('Cookie', cookie).type('form').send({ csrf_token: csrf });
      expect(res.status).toBe(303);
      await expectEvent(res, { type: 'grant.revoked', actor: bob.actor, subject: bob.id, client: client.clientId });
    });

    it('no event when there was no grant of yours to revoke (204 all the same)', async () => {
      const bob = await newUser();
      const cookie = await signIn(t, bob.username, bob.password);
      const res = await request(t.url).delete('/api/v0/users/me/oauth2/authorizations/00000000-0000-4000-8000-000000000000').set('Cookie', cookie);
      expect(res.status).toBe(204);
      await expectNoEvent(res);
    });

    it('session.revoked: one refresh-token family, with its app', async () => {
      const bob = await newUser();
      const client = await newClient();
      const cookie = await signIn(t, bob.username, bob.password);
      await issueTokens(t, client, cookie);
      const [session] = (await request(t.url).get('/api/v0/users/me/oauth2/sessions').set('Cookie', cookie)).body as { token_id: string }[];
      const res = await request(t.url).delete(`/api/v0/users/me/oauth2/sessions/${session.token_id}`).set('Cookie', cookie);
      expect(res.status).toBe(204);
      await expectEvent(res, { type: 'session.revoked', actor: bob.actor, subject: bob.id, client: client.clientId, details: { family_id: session.token_id } });
    });

    it('no event for a session that is not yours (404)', async () => {
      const bob = await newUser();
      const carol = await newUser();
      const client = await newClient();
      await issueTokens(t, client, await signIn(t, carol.username, carol.password));
      const [{ family_id: carols }] = await sql<{ family_id: string }>(t, 'SELECT family_id FROM refresh_tokens WHERE user_id = $1', [carol.id]);
      const res = await request(t.url).delete(`/api/v0/users/me/oauth2/sessions/${carols}`).set('Cookie', await signIn(t, bob.username, bob.password));
      expect(res.status).toBe(404);
      await expectNoEvent(res);
    });

    it('sessions.revoked_all: how many, and of which apps', async () => {
      const bob = await newUser();
      const client = await newClient();
      const cookie = await signIn(t, bob.username, bob.password);
      await issueTokens(t, client, cookie);
      await issueTokens(t, client, cookie);
      const res = await request(t.url).post('/api/v0/users/me/oauth2/sessions/revoke-all').set('Cookie', cookie);
      expect(res.body.count).toBe(2);
      await expectEvent(res, { type: 'sessions.revoked_all', actor: bob.actor, subject: bob.id, client: null, details: { count: 2, client_ids: [client.clientId] } });
    });
  });

  describe('detected attacks', () => {
    it('refresh_token.reuse_detected: the client that presented it, the user, the family it revoked', async () => {
      const bob = await newUser();
      const client = await newClient();
      const first = await issueTokens(t, client, await signIn(t, bob.username, bob.password));
      await rotate(t, client, first.refresh_token!);
      const res = await refresh(t, client, first.refresh_token!);
      expect(res.body.error).toBe('invalid_grant');
      const row = await expectEvent(res, { type: 'refresh_token.reuse_detected', outcome: 'failure', actor: clientActorOf(client, (await appName(client))), subject: bob.id, client: client.clientId });
      expect(row.details).toEqual({ family_id: expect.any(String), grant_id: expect.any(String), sessions_revoked: 1 });
    });

    it('no event for a refresh token that was revoked, not rotated: a client that has not heard yet', async () => {
      const bob = await newUser();
      const client = await newClient();
      const tokens = await issueTokens(t, client, await signIn(t, bob.username, bob.password));
      expect((await revoke(t, client, tokens.refresh_token!)).status).toBe(200);
      const res = await refresh(t, client, tokens.refresh_token!);
      expect(res.body.error).toBe('invalid_grant');
      await expectNoEvent(res);
    });

    it('no event for a refresh token that was never issued', async () => {
      const client = await newClient();
      const res = await refresh(t, client, 'never-issued-refresh-token');
      expect(res.body.error).toBe('invalid_grant');
      await expectNoEvent(res);
    });

    it('authorization_code.replay_detected: the code presented again, what it minted revoked', async () => {
      const bob = await newUser();
      const client = await newClient();
      const { code, verifier } = await authorizeAndConsent(t, client, await signIn(t, bob.username, bob.password), { scope: 'openid offline_access' });
      expect((await exchange(t, client, code, verifier)).status).toBe(200);
      const res = await exchange(t, client, code, verifier);
      expect(res.body.error).toBe('invalid_grant');
      const row = await expectEvent(res, { type: 'authorization_code.replay_detected', outcome: 'failure', actor: clientActorOf(client, await appName(client)), subject: bob.id, client: client.clientId });
      expect(row.details).toEqual({ grant_id: expect.any(String), sessions_revoked: 1 });
    });

    it('no event for a code exchange refused before redemption (wrong verifier): the code stays usable', async () => {
      const bob = await newUser();
      const client = await newClient();
      const { code, verifier } = await authorizeAndConsent(t, client, await signIn(t, bob.username, bob.password));
      const res = await exchange(t, client, code, pkce().verifier);
      expect(res.body.error).toBe('invalid_grant');
      await expectNoEvent(res);
      expect((await exchange(t, client, code, verifier)).status).toBe(200);
    });
  });

  describe('apps', () => {
    it('app.registered by an admin: provenance api', async () => {
      const name = unique('billing');
      const res = await request(t.url).post('/api/v1/oauth2/apps').set('Cookie', admin).send({ name, redirect_uris: ['https://billing.example.com/cb'] });
      expect(res.status).toBe(201);
      await expectEvent(res, {
        type: 'app.registered', actor: adminActor(), client: res.body.client_id,
        details: { provenance: 'api', name, token_endpoint_auth_method: 'client_secret_basic' },
      });
    });

    it('app.registered by dynamic registration: provenance dcr, the client itself acting', async () => {
      const res = await request(t.url).post('/oauth2/register').send({ client_name: 'Agent 86', redirect_uris: ['https://agent.example.net/cb'] });
      expect(res.status).toBe(201);
      await expectEvent(res, {
        type: 'app.registered', actor: { type: 'client', id: res.body.client_id, name: 'Agent 86' }, client: res.body.client_id,
        details: { provenance: 'dcr', name: 'Agent 86', token_endpoint_auth_method: 'client_secret_basic' },
      });
    });

    it('no app.registered when a public client registering again is answered the client it has', async () => {
      const metadata = { client_name: 'Agent 99', redirect_uris: ['http://127.0.0.1:4711/cb'], token_endpoint_auth_method: 'none' };
      const first = await request(t.url).post('/oauth2/register').send(metadata);
      const again = await request(t.url).post('/oauth2/register').send(metadata);
      expect(again.body.client_id).toBe(first.body.client_id);
      expect((await eventsOf(first)).map((e) => e.type)).toEqual(['app.registered']);
      await expectNoEvent(again);
    });

    it('no app.registered for metadata that is refused', async () => {
      const res = await request(t.url).post('/oauth2/register').send({ client_name: 'Bad', redirect_uris: ['http://example.com/not-loopback'] });
      expect(res.status).toBe(400);
      await expectNoEvent(res);
    });

    it('app.registered by a metadata document: provenance cimd, when the document first makes the app, not when it is fetched again', async () => {
      const clientId = host.document(`/clients/${unique('agent')}.json`);
      const client: RegisteredApp = { id: clientId, clientId, redirectUri: 'http://127.0.0.1:33418/callback' };
      const bob = await newUser();
      const cookie = await signIn(t, bob.username, bob.password);
      const first = await getAuthorize(t, authorizeParams(client, pkce().challenge, { scope: 'openid' }), cookie);
      expect(first.status).toBe(200);
      await expectEvent(first, {
        type: 'app.registered', actor: { type: 'client', id: clientId, name: 'Agent Smith' }, client: clientId,
        details: { provenance: 'cimd', name: 'Agent Smith', token_endpoint_auth_method: 'none' },
      });
      // The copy goes stale: every instance drops its cached row when the change is heard.
      await sql(t, `UPDATE apps SET metadata_expires_at = now() - interval '1 second' WHERE client_id = $1`, [clientId]);
      await t.app.get(DatabaseNotifications).flush();
      const again = await getAuthorize(t, authorizeParams(client, pkce().challenge, { scope: 'openid' }), cookie);
      expect(again.status).toBe(200);
      expect(host.hitsOf(new URL(clientId).pathname)).toBe(2);
      await expectNoEvent(again);
    });

    it('app.changed: the names of the fields that changed, not their values', async () => {
      const client = await newClient();
      const res = await request(t.url).patch(`/api/v1/oauth2/apps/${client.id}`).set('Cookie', admin)
        .send({ redirect_uris: ['https://app.example.com/callback', 'https://app.example.com/other'], display_name: 'Renamed', logo_uri: null });
      expect(res.status).toBe(200);
      await expectEvent(res, { type: 'app.changed', actor: adminActor(), client: client.clientId, details: { name: res.body.name, fields: ['display_name', 'redirect_uris'] } });
    });

    it('app.changed by a review of a self-registered app', async () => {
      const registered = await registerApp(t, { client_name: 'Reviewed agent' });
      const [{ id }] = await sql<{ id: string }>(t, 'SELECT id FROM apps WHERE client_id = $1', [registered.clientId]);
      const res = await request(t.url).post(`/api/v1/oauth2/apps/${id}/review`).set('Cookie', admin);
      expect(res.status).toBe(200);
      await expectEvent(res, { type: 'app.changed', actor: adminActor(), client: registered.clientId, details: { name: 'Reviewed agent', fields: ['provenance'], reviewed: true } });
    });

    it('no app.changed for a change that is refused, or an app that does not exist', async () => {
      const client = await newClient();
      const refused = await request(t.url).patch(`/api/v1/oauth2/apps/${client.id}`).set('Cookie', admin).send({ redirect_uris: ['not a url'] });
      expectProblem(refused, 400, 'validation_error', [field('redirect_uris.0')]);
      await expectNoEvent(refused);
      const missing = await request(t.url).patch('/api/v1/oauth2/apps/00000000-0000-4000-8000-000000000000').set('Cookie', admin).send({ name: 'x' });
      expect(missing.status).toBe(404);
      await expectNoEvent(missing);
    });

    it('app.secret_rotated', async () => {
      const client = await newClient();
      const res = await request(t.url).post(`/api/v1/oauth2/apps/${client.id}/secret`).set('Cookie', admin);
      expect(res.status).toBe(200);
      await expectEvent(res, { type: 'app.secret_rotated', actor: adminActor(), client: client.clientId, details: { name: await appName(client) } });
    });

    it('no app.secret_rotated for a public client, which has no secret', async () => {
      const client = await newClient({ token_endpoint_auth_method: 'none' });
      const res = await request(t.url).post(`/api/v1/oauth2/apps/${client.id}/secret`).set('Cookie', admin);
      expect(res.status).toBe(400);
      await expectNoEvent(res);
    });

    it('app.deleted', async () => {
      const client = await newClient();
      const name = await appName(client);
      const res = await request(t.url).delete(`/api/v1/oauth2/apps/${client.id}`).set('Cookie', admin);
      expect(res.status).toBe(204);
      await expectEvent(res, { type: 'app.deleted', actor: adminActor(), client: client.clientId, details: { name, provenance: 'api' } });
    });

    it('no app.deleted when a user who is not an admin tries', async () => {
      const client = await newClient();
      const bob = await newUser();
      const res = await request(t.url).delete(`/api/v1/oauth2/apps/${client.id}`).set('Cookie', await signIn(t, bob.username, bob.password));
      expect(res.status).toBe(403);
      await expectNoEvent(res);
    });
  });

  describe('keys', () => {
    it('signing_key.rotated: the new key and the ones it retired', async () => {
      const [{ kid: before }] = await sql<{ kid: string }>(t, `SELECT kid FROM signing_keys WHERE status = 'active'`);
      const res = await request(t.url).post('/api/v1/oauth2/keys/rotate').set('Cookie', admin);
      expect(res.status).toBe(200);
      await expectEvent(res, { type: 'signing_key.rotated', actor: adminActor(), details: { kid: res.body.kid, retired: [before] } });
    });

    it('no signing_key.rotated without the admin role', async () => {
      const account = await createServiceAccount(t, admin, unique('robot'), 'user');
      const res = await request(t.url).post('/api/v1/oauth2/keys/rotate').set('Authorization', `Bearer ${account.token}`);
      expect(res.status).toBe(403);
      await expectNoEvent(res);
    });
  });

  describe('users', () => {
    it('user.created: by the bootstrap on an empty database, the system acting', async () => {
      const [row] = await sql<EventRow>(t, `SELECT * FROM audit_events WHERE type = 'user.created' AND subject_user_id = $1`, [adminId]);
      expect(row).toMatchObject({
        outcome: 'success', actor_type: 'system', actor_id: null, actor_name: null, client_id: null, source_address: null, request_id: null,
        details: { username: 'admin', role: 'admin', org_id: expect.any(String), bootstrap: true },
      });
    });

    it('user.created by an admin', async () => {
      const username = unique('dave');
      const res = await request(t.url).post('/api/v1/users').set('Cookie', admin).send({ username, password: 'dave-password-123' });
      expect(res.status).toBe(201);
      await expectEvent(res, { type: 'user.created', actor: adminActor(), subject: res.body.id, details: { username, role: 'user', org_id: res.body.org_id } });
    });

    it('no user.created for a username that is taken (the insert fails and rolls back)', async () => {
      const bob = await newUser();
      const res = await request(t.url).post('/api/v1/users').set('Cookie', admin).send({ username: bob.username.toUpperCase(), password: 'another-password-1' });
      expect(res.status).toBe(409);
      await expectNoEvent(res);
    });

    it('user.changed: the names of the fields that changed, never a password', async () => {
      const bob = await newUser();
      const res = await request(t.url).patch(`/api/v1/users/${bob.id}`).set('Cookie', admin).send({ email: 'bob@example.com', password: 'a-new-password-99', given_name: null });
      expect(res.status).toBe(200);
      await expectEvent(res, { type: 'user.changed', actor: adminActor(), subject: bob.id, details: { username: bob.username, fields: ['email', 'password'] } });
    });

    it('user.changed for a promotion names the new role', async () => {
      const bob = await newUser();
      const res = await request(t.url).patch(`/api/v1/users/${bob.id}`).set('Cookie', admin).send({ role: 'admin' });
      await expectEvent(res, { type: 'user.changed', actor: adminActor(), subject: bob.id, details: { username: bob.username, fields: ['role'], role: 'admin' } });
    });

    it('user.demoted: an admin becomes a user', async () => {
      const erin = await newUser('admin');
      const res = await request(t.url).patch(`/api/v1/users/${erin.id}`).set('Cookie', admin).send({ role: 'user' });
      expect(res.status).toBe(200);
      await expectEvent(res, { type: 'user.demoted', actor: adminActor(), subject: erin.id, details: { username: erin.username, from: 'admin', to: 'user' } });
    });

    it('user.demoted and user.changed when one change demotes and renames', async () => {
      const erin = await newUser('admin');
      const username = unique('erin');
      const res = await request(t.url).patch(`/api/v1/users/${erin.id}`).set('Cookie', admin).send({ role: 'user', username });
      expect(res.status).toBe(200);
      const rows = await eventsOf(res);
      expect(rows.map((r) => [r.type, r.details])).toEqual(expect.arrayContaining([
        ['user.demoted', { username, from: 'admin', to: 'user' }],
        ['user.changed', { username, fields: ['username'] }],
      ]));
      expect(rows).toHaveLength(2);
      expect(auditLinesOf(res)).toHaveLength(2);
    });

    it('no user.changed for a username that is taken, or a user that does not exist', async () => {
      const bob = await newUser();
      const carol = await newUser();
      const taken = await request(t.url).patch(`/api/v1/users/${bob.id}`).set('Cookie', admin).send({ username: carol.username });
      expect(taken.status).toBe(409);
      await expectNoEvent(taken);
      const missing = await request(t.url).patch('/api/v1/users/00000000-0000-4000-8000-000000000000').set('Cookie', admin).send({ email: 'x@example.com' });
      expect(missing.status).toBe(404);
      await expectNoEvent(missing);
    });

    it('user.deleted', async () => {
      const bob = await newUser();
      const res = await request(t.url).delete(`/api/v1/users/${bob.id}`).set('Cookie', admin);
      expect(res.status).toBe(204);
      await expectEvent(res, { type: 'user.deleted', actor: adminActor(), subject: bob.id, details: { username: bob.username, role: 'user' } });
    });

    it('no user.deleted for a user that does not exist', async () => {
      const res = await request(t.url).delete('/api/v1/users/00000000-0000-4000-8000-000000000000').set('Cookie', admin);
      expect(res.status).toBe(404);
      await expectNoEvent(res);
    });
  });

  describe('minted tokens', () => {
    it('token.delegated_minted: the admin acting, the user it is for, its jti', async () => {
      const bob = await newUser();
      const res = await request(t.url).post('/api/v1/oauth2/delegated-token').set('Cookie', admin).send({ sub: bob.id, scopes: ['openid'], team_id: 'team-42' });
      expect(res.status).toBe(200);
      const jti = JSON.parse(Buffer.from(res.body.access_token.split('.')[1], 'base64url').toString()).jti;
      await expectEvent(res, {
        type: 'token.delegated_minted', actor: adminActor(), subject: bob.id,
        details: { scopes: ['openid'], jti, expires_at: expect.any(String), team_id: 'team-42' },
      });
    });

    it('token.delegated_minted by a service account names it as the actor', async () => {
      const bob = await newUser();
      const account = await createServiceAccount(t, admin, unique('minter'), 'admin');
      const res = await request(t.url).post('/api/v1/oauth2/delegated-token').set('Authorization', `Bearer ${account.token}`).send({ sub: bob.id });
      expect(res.status).toBe(200);
      await expectEvent(res, { type: 'token.delegated_minted', actor: { type: 'service_account', id: account.id }, subject: bob.id });
    });

    it('no token.delegated_minted for a user that does not exist', async () => {
      const res = await request(t.url).post('/api/v1/oauth2/delegated-token').set('Cookie', admin).send({ sub: '00000000-0000-4000-8000-000000000000' });
      expect(res.status).toBe(400);
      await expectNoEvent(res);
    });

    it('token.principal_minted: the caller, for itself, bound to its session', async () => {
      const bob = await newUser();
      const res = await request(t.url).get('/api/v1/oauth2/principal-token').set('Cookie', await signIn(t, bob.username, bob.password));
      expect(res.status).toBe(200);
      await expectEvent(res, {
        type: 'token.principal_minted', actor: bob.actor, subject: bob.id,
        details: { scopes: ['openid', 'profile', 'email', 'offline_access', 'account'], jti: expect.any(String), bound_to: 'session', expires_at: expect.any(String) },
      });
    });

    it('token.principal_minted from an app\'s access token names the app', async () => {
      const bob = await newUser();
      const client = await newClient({ scope: 'openid account' });
      const tokens = await issueTokens(t, client, await signIn(t, bob.username, bob.password), { scope: 'openid account' });
      const res = await request(t.url).get('/api/v1/oauth2/principal-token').set('Authorization', `Bearer ${tokens.access_token}`);
      expect(res.status).toBe(200);
      const row = await expectEvent(res, { type: 'token.principal_minted', actor: bob.actor, subject: bob.id, client: client.clientId });
      expect(row.details).toMatchObject({ scopes: ['openid', 'account'], bound_to: 'access_token' });
    });

    it('no token.principal_minted for a service account (403)', async () => {
      const account = await createServiceAccount(t, admin, unique('robot'), 'user');
      const res = await request(t.url).get('/api/v1/oauth2/principal-token').set('Authorization', `Bearer ${account.token}`);
      expect(res.status).toBe(403);
      await expectNoEvent(res);
    });
  });
});

describe('in the transaction of its change', () => {
  /**
   * Makes the commit of every transaction that changes `table` fail, after the change and its event were written: a
   * deferred constraint trigger on the changed table. An event stored or logged all the same would be one written
   * outside that transaction, or logged before it committed.
   */
  async function failCommitsChanging(table: string, operation: 'UPDATE' | 'DELETE'): Promise<() => Promise<void>> {
    await sql(t, `CREATE OR REPLACE FUNCTION audit_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
    await sql(t, `CREATE CONSTRAINT TRIGGER audit_test_refuse AFTER ${operation} ON ${table} DEFERRABLE INITIALLY DEFERRED
                  FOR EACH ROW EXECUTE FUNCTION audit_test_refuse()`);
    return async () => {
      await sql(t, `DROP TRIGGER audit_test_refuse ON ${table}`);
    };
  }

  it('a deletion whose commit fails leaves the app, no event and no log line claiming it', async () => {
    const client = await newClient();
    const restore = await failCommitsChanging('apps', 'DELETE');
    try {
      const res = await request(t.url).delete(`/api/v1/oauth2/apps/${client.id}`).set('Cookie', admin);
      expect(res.status).toBe(500);
      await expectNoEvent(res);
    } finally {
      await restore();
    }
    expect((await request(t.url).get(`/api/v1/oauth2/apps/${client.id}`).set('Cookie', admin)).status).toBe(200);
  });

  it('a user change whose commit fails changes nothing and leaves no event', async () => {
    const bob = await newUser();
    const restore = await failCommitsChanging('users', 'UPDATE');
    try {
      const res = await request(t.url).patch(`/api/v1/users/${bob.id}`).set('Cookie', admin).send({ email: 'changed@example.com' });
      expect(res.status).toBe(500);
      await expectNoEvent(res);
    } finally {
      await restore();
    }
    expect((await request(t.url).get(`/api/v1/users/${bob.id}`).set('Cookie', admin)).body.email).toBeNull();
  });

  it('a revocation whose commit fails leaves the grant and no event', async () => {
    const bob = await newUser();
    const client = await newClient();
    const cookie = await signIn(t, bob.username, bob.password);
    await authorizeAndConsent(t, client, cookie);
    const grantId = await grantIdOf(t, cookie, client);
    const restore = await failCommitsChanging('grants', 'DELETE');
    try {
      const res = await request(t.url).delete(`/api/v0/users/me/oauth2/authorizations/${grantId}`).set('Cookie', cookie);
      expect(res.status).toBe(500);
      await expectNoEvent(res);
    } finally {
      await restore();
    }
    expect(await grantIdOf(t, cookie, client)).toBe(grantId);
  });
});

/** The name an app got from newClient. */
async function appName(client: RegisteredApp): Promise<string> {
  const [{ name }] = await sql<{ name: string }>(t, 'SELECT name FROM apps WHERE client_id = $1', [client.clientId]);
  return name;
}

describe('GET /api/v1/audit-events', () => {
  const list = (query: Record<string, string | number>, credential = admin) =>
    request(t.url).get('/api/v1/audit-events').query(query).set('Cookie', credential);

  /** Every page of a listing, following next_cursor. */
  async function allPages(query: Record<string, string | number>): Promise<{ pages: number; ids: string[] }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await list({ ...query, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      pages++;
      ids.push(...(res.body.items as { id: string }[]).map((e) => e.id));
      cursor = res.body.next_cursor;
    } while (cursor && pages < 100);
    return { pages, ids };
  }

  it('answers events newest first with every field', async () => {
    const bob = await newUser();
    const res = await list({ subject: bob.id });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      items: [{
        id: expect.any(String), occurred_at: expect.any(String), type: 'user.created', outcome: 'success',
        actor: { type: 'user', id: adminId, name: 'admin' }, subject_user_id: bob.id, client_id: null, source_address: '127.0.0.1',
        request_id: expect.any(String), details: { username: bob.username, role: 'user', org_id: expect.any(String) },
      }],
      next_cursor: null,
    });
  });

  it('filters by type, one or several', async () => {
    const one = await list({ type: 'signing_key.rotated', limit: 200 });
    expect(one.body.items.length).toBeGreaterThan(0);
    expect(new Set(one.body.items.map((e: { type: string }) => e.type))).toEqual(new Set(['signing_key.rotated']));
    const several = await list({ type: 'user.deleted, app.deleted', limit: 200 });
    expect(new Set(several.body.items.map((e: { type: string }) => e.type))).toEqual(new Set(['user.deleted', 'app.deleted']));
  });

  it('filters by actor, by subject and by client', async () => {
    const bob = await newUser();
    const client = await newClient();
    await issueTokens(t, client, await signIn(t, bob.username, bob.password));
    const byActor = await list({ actor: bob.id });
    expect(byActor.body.items.map((e: { type: string }) => e.type)).toEqual(['consent.granted', 'sign_in.succeeded']);
    const bySubject = await list({ subject: bob.id });
    expect(bySubject.body.items.map((e: { type: string }) => e.type)).toEqual(['consent.granted', 'sign_in.succeeded', 'user.created']);
    const byClient = await list({ client_id: client.clientId });
    expect(byClient.body.items.map((e: { type: string }) => e.type)).toEqual(['consent.granted', 'app.registered']);
    const byClientAsActor = await list({ actor: client.clientId });
    expect(byClientAsActor.body.items).toEqual([]);
  });

  it('filters by time range: from inclusive, to exclusive', async () => {
    const bob = await newUser();
    const [{ occurred_at: at }] = await sql<{ occurred_at: Date }>(t, `SELECT occurred_at FROM audit_events WHERE subject_user_id = $1`, [bob.id]);
    const later = new Date(at.getTime() + 1).toISOString();
    expect((await list({ subject: bob.id, from: later })).body.items).toEqual([]);
    expect((await list({ subject: bob.id, to: new Date(at.getTime() - 1).toISOString() })).body.items).toEqual([]);
    expect((await list({ subject: bob.id, from: new Date(at.getTime() - 1000).toISOString(), to: later })).body.items).toHaveLength(1);
  });

  it('pages through every event with a cursor: several pages, no duplicate, no gap, in order — ties in time too', async () => {
    // 45 events of one subject, several sharing their exact time (one transaction's events do).
    const subject = '11111111-1111-4111-8111-111111111111';
    await sql(t, `INSERT INTO audit_events (occurred_at, type, outcome, actor_type, subject_user_id)
                  SELECT now() - (n / 3) * interval '1 millisecond' - (n % 2) * interval '1 microsecond', 'user.changed', 'success', 'system', $1
                    FROM generate_series(1, 45) n`, [subject]);
    const expected = (await sql<{ id: string }>(t, 'SELECT id FROM audit_events WHERE subject_user_id = $1 ORDER BY occurred_at DESC, id DESC', [subject])).map((r) => r.id);
    const { pages, ids } = await allPages({ subject, limit: 7 });
    expect(pages).toBe(7);
    expect(ids).toEqual(expected);
  });

  it('keeps its place while new events arrive between pages', async () => {
    const subject = '22222222-2222-4222-8222-222222222222';
    const seed = (n: number) => sql(t, `INSERT INTO audit_events (type, outcome, actor_type, subject_user_id)
                                         SELECT 'user.changed', 'success', 'system', $1 FROM generate_series(1, $2)`, [subject, n]);
    await seed(10);
    const before = (await sql<{ id: string }>(t, 'SELECT id FROM audit_events WHERE subject_user_id = $1 ORDER BY occurred_at DESC, id DESC', [subject])).map((r) => r.id);
    const first = await list({ subject, limit: 4 });
    await seed(5);
    const second = await list({ subject, limit: 100, cursor: first.body.next_cursor });
    expect([...first.body.items, ...second.body.items].map((e: { id: string }) => e.id)).toEqual(before);
  });

  it.each([
    ['type', { type: 'sign_in.failed,no.such_type' }],
    ['type', { type: '' }],
    ['from', { from: 'yesterday' }],
    ['to', { to: '2026-13-40T00:00:00Z' }],
    ['subject', { subject: 'not-a-uuid' }],
    ['limit', { limit: 0 }],
    ['limit', { limit: 201 }],
    ['cursor', { cursor: 'not-a-cursor' }],
    ['cursor', { cursor: Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000000Z', 'x'])).toString('base64url') }],
  ])('refuses a bad %s with a validation_error naming it', async (name, query) => {
    expectProblem(await list(query as Record<string, string | number>), 400, 'validation_error', [field(name)]);
  });

  it('is for admins: 403 for a user, 401 without credentials, 403 for an access token without the admin scope', async () => {
    const bob = await newUser();
    const bobCookie = await signIn(t, bob.username, bob.password);
    expectProblem(await list({}, bobCookie), 403, 'forbidden');
    const anonymous = await request(t.url).get('/api/v1/audit-events');
    expectProblem(anonymous, 401, 'unauthorised');
    const client = await newClient({ scope: 'openid account admin' });
    const tokens = await issueTokens(t, client, admin, { scope: 'openid account' });
    const res = await request(t.url).get('/api/v1/audit-events').set('Authorization', `Bearer ${tokens.access_token}`);
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(/insufficient_scope/);
    const withAdmin = await issueTokens(t, client, admin, { scope: 'openid admin' });
    expect((await request(t.url).get('/api/v1/audit-events').set('Authorization', `Bearer ${withAdmin.access_token}`)).status).toBe(200);
  });
});

describe('GET /api/v0/users/me/audit-events', () => {
  it('shows a user the events about them and those they caused, and nobody else\'s', async () => {
    const bob = await newUser();
    const carol = await newUser();
    const client = await newClient();
    const bobCookie = await signIn(t, bob.username, bob.password);
    await postLogin(t, bob.username, 'a-wrong-password');
    await issueTokens(t, client, bobCookie);
    await issueTokens(t, client, await signIn(t, carol.username, carol.password));
    const res = await request(t.url).get('/api/v0/users/me/audit-events').set('Cookie', bobCookie);
    expect(res.status).toBe(200);
    expect(res.body.items.map((e: { type: string }) => e.type)).toEqual(['consent.granted', 'sign_in.failed', 'sign_in.succeeded', 'user.created']);
    expect(res.body.items.every((e: { subject_user_id: string }) => e.subject_user_id === bob.id)).toBe(true);
  });

  it('includes what the user did to others (an admin\'s own actions), and takes no actor or subject filter', async () => {
    const erin = await newUser('admin');
    const erinCookie = await signIn(t, erin.username, erin.password);
    const bob = await createUser(t, erinCookie, { username: unique('by-erin') });
    const mine = await request(t.url).get('/api/v0/users/me/audit-events').query({ type: 'user.created' }).set('Cookie', erinCookie);
    expect(mine.body.items.map((e: { subject_user_id: string }) => e.subject_user_id)).toEqual([bob.id, erin.id]);
    const sneaky = await request(t.url).get('/api/v0/users/me/audit-events').query({ subject: adminId, actor: adminId }).set('Cookie', erinCookie);
    expect(sneaky.body.items.every((e: { subject_user_id: string; actor: { id: string } }) => e.subject_user_id === erin.id || e.actor.id === erin.id)).toBe(true);
  });

  it('filters and pages like the admin list', async () => {
    const bob = await newUser();
    const bobCookie = await signIn(t, bob.username, bob.password);
    for (let i = 0; i < 4; i++) await postLogin(t, bob.username, `wrong-${i}-password`);
    const first = await request(t.url).get('/api/v0/users/me/audit-events').query({ type: 'sign_in.failed', limit: 3 }).set('Cookie', bobCookie);
    expect(first.body.items).toHaveLength(3);
    const second = await request(t.url).get('/api/v0/users/me/audit-events').query({ type: 'sign_in.failed', limit: 3, cursor: first.body.next_cursor }).set('Cookie', bobCookie);
    expect(second.body).toEqual({ items: [expect.objectContaining({ type: 'sign_in.failed' })], next_cursor: null });
    expectProblem(await request(t.url).get('/api/v0/users/me/audit-events').query({ limit: 'many' }).set('Cookie', bobCookie), 400, 'validation_error', [field('limit')]);
  });

  it('takes an access token with the account scope; not a service account, nor nobody', async () => {
    const bob = await newUser();
    const client = await newClient({ scope: 'openid account' });
    const tokens = await issueTokens(t, client, await signIn(t, bob.username, bob.password), { scope: 'openid account' });
    const res = await request(t.url).get('/api/v0/users/me/audit-events').set('Authorization', `Bearer ${tokens.access_token}`);
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeGreaterThan(0);
    const account = await createServiceAccount(t, admin, unique('robot'), 'admin');
    expectProblem(await request(t.url).get('/api/v0/users/me/audit-events').set('Authorization', `Bearer ${account.token}`), 403, 'forbidden');
    expectProblem(await request(t.url).get('/api/v0/users/me/audit-events'), 401, 'unauthorised');
  });
});

describe('retention', () => {
  it('prunes events older than AUDIT_RETENTION (a year) in housekeeping, and counts them in the pruning log', async () => {
    const subject = '33333333-3333-4333-8333-333333333333';
    await sql(t, `INSERT INTO audit_events (occurred_at, type, outcome, actor_type, subject_user_id)
                  SELECT now() - make_interval(days => d), 'user.changed', 'success', 'system', $1 FROM unnest(ARRAY[400, 366, 364, 1]) d`, [subject]);
    const start = t.logs.lines.length;
    const pruned = await t.app.get(MaintenanceService).prune();
    expect(pruned.auditEvents).toEqual({ rows: 2, batches: 1 });
    const ages = await sql<{ days: number }>(t, `SELECT extract(day FROM now() - occurred_at)::int AS days FROM audit_events WHERE subject_user_id = $1 ORDER BY 1`, [subject]);
    expect(ages.map((r) => r.days)).toEqual([1, 364]);
    const line = t.logs.lines.slice(start).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.msg === 'pruned expired rows');
    expect(line).toMatchObject({ auditEvents: { rows: 2, batches: 1 } });
  });
});

describe('the command-line tool', () => {
  it('records what runs inside runAsCli with actor cli, named after the OS user', async () => {
    const { runAsCli } = await import('../../src/identity/audit/audit-context');
    const { UsersService } = await import('../../src/identity/users/users.service');
    const created = await runAsCli(() => t.app.get(UsersService).create({ username: unique('from-cli'), password: 'cli-password-123' }), 'ops');
    const [row] = await sql<EventRow>(t, `SELECT * FROM audit_events WHERE type = 'user.created' AND subject_user_id = $1`, [created.id]);
    expect(row).toMatchObject({ actor_type: 'cli', actor_id: null, actor_name: 'ops', source_address: null, request_id: expect.stringMatching(/^cli-/) });
  });
});
