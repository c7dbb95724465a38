import request from 'supertest';
import { bootApp, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { basic, createApp } from '../helpers/clients';
import { cookiesOf, createServiceAccount, createUser, postLogin, signIn } from '../helpers/identity';
import { authorizeAndConsent } from '../helpers/oauth';

/**
 * SPEC §7: no secret, token or password in any log line. Runs every flow that handles one at the most verbose log
 * level, collects each secret the server issued or received, and reads the whole captured log for them.
 */
describe('no secret in any log line, across every flow', () => {
  let t: TestApp;
  const secrets = new Map<string, string>();
  const keep = (name: string, value: string | undefined) => {
    if (!value) throw new Error(`the flow produced no ${name}`);
    secrets.set(name, value);
  };

  beforeAll(async () => {
    t = await bootApp({ env: { LOG_LEVEL: 'trace', OAUTH2_DCR_ENABLED: 'true' } });
    keep('admin password', TEST_ADMIN_PASSWORD);
    const admin = await signIn(t);
    keep('admin session id', admin.split('=')[1]);

    const alice = await createUser(t, admin, { username: 'alice', password: 'alice-secret-password-1' });
    keep('user password', alice.password);
    const failed = await postLogin(t, 'alice', 'alice-wrong-password-2');
    expect(failed.status).toBe(401);
    keep('wrong password', 'alice-wrong-password-2');
    const aliceLogin = await postLogin(t, 'alice', alice.password);
    keep('user session id', cookiesOf(aliceLogin).session_id.value);
    const aliceCookie = `session_id=${cookiesOf(aliceLogin).session_id.value}`;

    const app = await createApp(t, admin, { grant_types: ['authorization_code', 'refresh_token'] });
    keep('client secret', app.clientSecret);
    const { code, verifier } = await authorizeAndConsent(t, app, aliceCookie, { scope: 'openid profile offline_access' });
    keep('authorization code', code);
    keep('code verifier', verifier);
    const tokens = await request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form')
      .send({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: app.redirectUri });
    keep('access token', tokens.body.access_token);
    keep('refresh token', tokens.body.refresh_token);
    keep('id token', tokens.body.id_token);

    const refreshed = await request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form')
      .send({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
    keep('rotated refresh token', refreshed.body.refresh_token);
    // A replay, so the replay path logs too.
    await request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form')
      .send({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: app.redirectUri });
    // Secrets a caller puts where we do not read them, and secrets wrapped in a nested URL (a return_to).
    await request(t.url).get(`/oauth2/authorize?client_id=${app.clientId}&id_token_hint=${tokens.body.id_token}&client_assertion=${refreshed.body.access_token}&assertion=${code}&subject_token=${tokens.body.refresh_token}&actor_token=${verifier}`);
    await request(t.url).get(`/login?return_to=${encodeURIComponent(`/oauth2/authorize?client_id=${app.clientId}&code=${code}&refresh_token=${refreshed.body.refresh_token}`)}`);
    await request(t.url).get(`/login?return_to=${encodeURIComponent(`/login?return_to=${encodeURIComponent(`/cb?access_token=${refreshed.body.access_token}`)}`)}`);
    await request(t.url).get('/oauth2/userinfo').set('Authorization', `Bearer ${refreshed.body.access_token}`);
    await request(t.url).get(`/oauth2/userinfo?access_token=${refreshed.body.access_token}`);
    await request(t.url).post('/oauth2/introspect').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form').send({ token: refreshed.body.access_token });
    await request(t.url).post('/oauth2/revoke').set('Authorization', basic(app.clientId, app.clientSecret!)).type('form').send({ token: refreshed.body.refresh_token });
    await request(t.url).post('/oauth2/token').set('Authorization', basic(app.clientId, 'a-wrong-client-secret-3')).type('form').send({ grant_type: 'client_credentials' });
    keep('wrong client secret', 'a-wrong-client-secret-3');

    const rotated = await request(t.url).post(`/api/v1/oauth2/apps/${app.id}/secret`).set('Cookie', admin);
    keep('rotated client secret', rotated.body.client_secret);
    const registered = await request(t.url).post('/oauth2/register').send({ redirect_uris: ['https://dcr.example.com/cb'] });
    keep('registered client secret', registered.body.client_secret);
    const account = await createServiceAccount(t, admin, 'robot', 'admin');
    keep('service account token', account.token);
    await request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${account.token}`);
    const principal = await request(t.url).get('/api/v1/oauth2/principal-token').set('Cookie', admin);
    keep('principal token', principal.body.access_token);
    const delegated = await request(t.url).post('/api/v1/oauth2/delegated-token').set('Cookie', admin).send({ sub: alice.id });
    keep('delegated token', delegated.body.access_token);
    await request(t.url).post('/api/v1/oauth2/keys/rotate').set('Cookie', admin);
  });
  afterAll(() => t.close());

  it('logged the flows at all (the check below reads real output)', () => {
    expect(t.logs.lines.length).toBeGreaterThan(30);
    expect(t.logs.text).toContain('/oauth2/token');
  });

  it('never wrote a private signing key', () => {
    expect(t.logs.text).not.toContain('PRIVATE KEY');
  });

  it.each([
    'admin password', 'admin session id', 'user password', 'wrong password', 'user session id', 'client secret',
    'authorization code', 'code verifier', 'access token', 'refresh token', 'id token', 'rotated refresh token',
    'wrong client secret', 'rotated client secret', 'registered client secret', 'service account token', 'principal token',
    'delegated token',
  ])('never wrote the %s', (name) => {
    const secret = secrets.get(name)!;
    expect(t.logs.text.includes(secret)).toBe(false);
  });
});
