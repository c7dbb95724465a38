import request from 'supertest';
import { AUDIT_EVENT_TYPE_NAMES } from '../../src/identity/audit/audit-event-types';
import { bootApp, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { basic, createApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { cookiesOf, createServiceAccount, createUser, postLogin, signIn } from '../helpers/identity';
import { authorizeAndConsent, authorizeParams, consentForm, getAuthorize, pkce, postDecision } from '../helpers/oauth';
import { grantIdOf } from '../helpers/protocol';

/**
 * The audit trail never holds a secret (issue 15 item 3): every flow that makes an audit event is run with secrets
 * it handles — the bootstrap password, passwords (right, wrong, new, and one typed into the username field), client
 * secrets shown at creation and rotation, codes and verifiers, access, refresh, ID, service-account, principal and
 * delegated tokens, session cookies — and neither any audit_events row (as text, every column) nor any log line
 * contains one of them.
 */
describe('no secret in the audit trail', () => {
  let t: TestApp;
  const secrets = new Map<string, string>();
  const keep = (name: string, value: string | undefined) => {
    if (!value) throw new Error(`the flow produced no ${name}`);
    secrets.set(name, value);
  };
  const form = (client: { clientId: string; clientSecret?: string }) =>
    request(t.url).post('/oauth2/token').set('Authorization', basic(client.clientId, client.clientSecret!)).type('form');

  beforeAll(async () => {
    t = await bootApp({ env: { LOG_LEVEL: 'trace', OAUTH2_DCR_ENABLED: 'true', OAUTH2_DCR_RATE_LIMIT: '0' } });
    keep('bootstrap admin password', TEST_ADMIN_PASSWORD);
    const admin = await signIn(t);
    keep('admin session id', admin.split('=')[1]);

    // Users: created, signed in, refused, locked out, changed, demoted, deleted.
    const alice = await createUser(t, admin, { username: 'alice', password: 'alice-planted-password-1' });
    keep('user password', alice.password);
    await postLogin(t, 'alice', 'alice-planted-wrong-password-2');
    keep('wrong password', 'alice-planted-wrong-password-2');
    await postLogin(t, 'planted-password-in-the-username-field-3', 'whatever-4');
    keep('password typed as a username', 'planted-password-in-the-username-field-3');
    const mallory = await createUser(t, admin, { username: 'mallory', password: 'mallory-planted-password-5' });
    keep('locked-out user password', mallory.password);
    for (let i = 0; i < 11; i++) await postLogin(t, 'mallory', `mallory-planted-guess-${i}`);
    keep('guessed password', 'mallory-planted-guess-10');
    const aliceLogin = await postLogin(t, 'alice', alice.password);
    keep('user session id', cookiesOf(aliceLogin).session_id.value);
    const aliceCookie = `session_id=${cookiesOf(aliceLogin).session_id.value}`;
    await request(t.url).patch(`/api/v1/users/${mallory.id}`).set('Cookie', admin).send({ password: 'mallory-planted-new-password-6', email: 'm@example.com' });
    keep('changed password', 'mallory-planted-new-password-6');
    const erin = await createUser(t, admin, { username: 'erin', password: 'erin-planted-password-7', role: 'admin' });
    keep('demoted admin password', erin.password);
    await request(t.url).patch(`/api/v1/users/${erin.id}`).set('Cookie', admin).send({ role: 'user', password: 'erin-planted-new-password-8' });
    keep('password set with a demotion', 'erin-planted-new-password-8');

    // Apps: registered by an admin and by themselves, their secrets rotated, changed, reviewed, deleted.
    const app = await createApp(t, admin, { name: 'planted-app', grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile offline_access account' });
    keep('client secret', app.clientSecret);
    const rotated = await request(t.url).post(`/api/v1/oauth2/apps/${app.id}/secret`).set('Cookie', admin);
    keep('rotated client secret', rotated.body.client_secret);
    const client = { ...app, clientSecret: rotated.body.client_secret as string };
    await request(t.url).patch(`/api/v1/oauth2/apps/${app.id}`).set('Cookie', admin).send({ display_name: 'Planted' });
    const registered = await request(t.url).post('/oauth2/register').send({ client_name: 'Self', redirect_uris: ['https://dcr.example.com/cb'] });
    keep('registered client secret', registered.body.client_secret);
    const [{ id: registeredId }] = await sql<{ id: string }>(t, 'SELECT id FROM apps WHERE client_id = $1', [registered.body.client_id]);
    await request(t.url).post(`/api/v1/oauth2/apps/${registeredId}/review`).set('Cookie', admin);

    // The protocol: consent, code exchange, refresh, reuse and replay detected, a denial.
    const { code, verifier } = await authorizeAndConsent(t, client, aliceCookie, { scope: 'openid profile offline_access account' });
    keep('authorization code', code);
    keep('code verifier', verifier);
    const exchange = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: client.redirectUri };
    const tokens = await form(client).send(exchange);
    keep('access token', tokens.body.access_token);
    keep('refresh token', tokens.body.refresh_token);
    keep('id token', tokens.body.id_token);
    const refreshed = await form(client).send({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
    keep('rotated refresh token', refreshed.body.refresh_token);
    keep('refreshed access token', refreshed.body.access_token);
    await form(client).send({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
    await form(client).send(exchange);
    const page = await getAuthorize(t, authorizeParams({ ...client, clientId: registered.body.client_id, redirectUri: 'https://dcr.example.com/cb' }, pkce().challenge), aliceCookie);
    await postDecision(t, aliceCookie, consentForm(page.text), { decision: 'deny' });
    const json = await request(t.url).post('/api/v1/oauth2/authorize').set('Cookie', aliceCookie)
      .send({ client_id: client.clientId, redirect_uri: client.redirectUri, response_type: 'code', scope: ['openid'], state: 's', code_challenge: pkce().challenge, code_challenge_method: 'S256' });
    keep('code from the JSON authorize', new URL(json.body.redirect_uri).searchParams.get('code') ?? undefined);

    // Minted tokens: principal (from the session and from an access token), delegated (by an admin's service account).
    const again = await authorizeAndConsent(t, client, aliceCookie, { scope: 'openid account offline_access' });
    const accountTokens = await form(client).send({ grant_type: 'authorization_code', code: again.code, code_verifier: again.verifier, redirect_uri: client.redirectUri });
    keep('account access token', accountTokens.body.access_token);
    keep('account refresh token', accountTokens.body.refresh_token);
    const principal = await request(t.url).get('/api/v1/oauth2/principal-token').set('Cookie', aliceCookie);
    keep('principal token', principal.body.access_token);
    const principalFromToken = await request(t.url).get('/api/v1/oauth2/principal-token').set('Authorization', `Bearer ${accountTokens.body.access_token}`);
    keep('principal token from an access token', principalFromToken.body.access_token);
    const robot = await createServiceAccount(t, admin, 'robot', 'admin');
    keep('service account token', robot.token);
    const delegated = await request(t.url).post('/api/v1/oauth2/delegated-token').set('Authorization', `Bearer ${robot.token}`).send({ sub: alice.id, team_id: 'team-1' });
    keep('delegated token', delegated.body.access_token);

    // Revocations: one session, all sessions, a grant; keys; deletions.
    const sessions = await request(t.url).get('/api/v0/users/me/oauth2/sessions').set('Authorization', `Bearer ${accountTokens.body.access_token}`);
    await request(t.url).delete(`/api/v0/users/me/oauth2/sessions/${sessions.body[0].token_id}`).set('Cookie', aliceCookie);
    await authorizeAndConsent(t, client, aliceCookie, { scope: 'openid offline_access' }).then((c) =>
      form(client).send({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: client.redirectUri }));
    await request(t.url).post('/api/v0/users/me/oauth2/sessions/revoke-all').set('Cookie', aliceCookie);
    await request(t.url).delete(`/api/v0/users/me/oauth2/authorizations/${await grantIdOf(t, aliceCookie, client)}`).set('Cookie', aliceCookie);
    await request(t.url).post('/api/v1/oauth2/keys/rotate').set('Authorization', `Bearer ${robot.token}`);
    await request(t.url).delete(`/api/v1/users/${mallory.id}`).set('Cookie', admin);
    await request(t.url).delete(`/api/v1/oauth2/apps/${registeredId}`).set('Cookie', admin);
  });
  afterAll(() => t.close());

  const rows = () => sql<{ row: string }>(t, 'SELECT a::text AS row FROM audit_events a');

  it('ran every flow that makes an audit event (the check below reads real rows and lines)', async () => {
    const types = (await sql<{ type: string }>(t, 'SELECT DISTINCT type FROM audit_events ORDER BY 1')).map((r) => r.type);
    expect(types).toEqual([...AUDIT_EVENT_TYPE_NAMES].sort());
    expect(t.logs.entries().filter((e) => e.msg === 'audit event').length).toBe((await rows()).length);
  });

  it.each([
    'bootstrap admin password', 'admin session id', 'user password', 'wrong password', 'password typed as a username',
    'locked-out user password', 'guessed password', 'user session id', 'changed password', 'demoted admin password',
    'password set with a demotion', 'client secret', 'rotated client secret', 'registered client secret', 'authorization code',
    'code verifier', 'access token', 'refresh token', 'id token', 'rotated refresh token', 'refreshed access token',
    'code from the JSON authorize', 'account access token', 'account refresh token', 'principal token',
    'principal token from an access token', 'service account token', 'delegated token',
  ])('holds no %s, in any audit event or any log line', async (name) => {
    const secret = secrets.get(name)!;
    expect((await rows()).filter((r) => r.row.includes(secret))).toEqual([]);
    expect(t.logs.text.includes(secret)).toBe(false);
  });
});
