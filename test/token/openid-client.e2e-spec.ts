import { bootApp, TestApp } from '../helpers/app';
import { createApp, RegisteredApp } from '../helpers/clients';
import { createUser, signIn } from '../helpers/identity';
import { runExternal } from '../external/run-external';

interface FlowError {
  name?: string;
  message: string;
  code?: string;
  error?: string;
  error_description?: string;
  status?: number;
}

interface FlowReport {
  ok: boolean;
  steps: { step: string; [detail: string]: unknown }[];
  failure?: FlowError & { after: string | null };
  token?: {
    token_type: string;
    wire_token_type: string;
    expires_in: number;
    scope: string;
    has_access_token: boolean;
    has_refresh_token: boolean;
    id_token_claims: Record<string, unknown>;
  };
  refresh?: { token_type: string; wire_token_type: string; scope: string; new_refresh_token: boolean; new_access_token: boolean; id_token_sub?: string };
  userinfo?: Record<string, unknown>;
  refresh_after_revocation?: { ok: boolean } & Partial<FlowError>;
}

/**
 * An independent relying party: openid-client v6, in its own Node process (it is ESM only), drives the whole flow
 * against the real server — discovery, authorize with PKCE, sign-in and consent over plain HTTP, the code
 * exchange (openid-client checks `iss`, `state`, PKCE and the ID token), refresh, userinfo and revocation.
 */
describe('an openid-client v6 relying party', () => {
  let t: TestApp;
  let app: RegisteredApp;
  let user: { id: string; username: string; password: string };
  let report: FlowReport;

  beforeAll(async () => {
    t = await bootApp();
    const admin = await signIn(t);
    user = await createUser(t, admin, { username: 'olivia', given_name: 'Olivia', family_name: 'Ng', email: 'olivia@example.com' });
    app = await createApp(t, admin, {
      name: 'openid-client-rp',
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid profile email offline_access',
      redirect_uris: ['https://rp.example.com/callback'],
      // openid-client's default client authentication; the server enforces the registered method (SPEC §4).
      token_endpoint_auth_method: 'client_secret_post',
    });
    report = await runExternal<FlowReport>('openid-client-flow.mjs', [t.url, app.clientId, app.clientSecret!, app.redirectUri, user.username, user.password]);
  }, 180_000);
  afterAll(() => t.close());

  it('completes every step of the flow', () => {
    expect(report.failure).toBeUndefined();
    expect(report.steps.map((s) => s.step)).toEqual([
      'discovery', 'authorize', 'login_form', 'login', 'consent_page', 'consent',
      'authorization_code_grant', 'refresh_token_grant', 'userinfo', 'revocation', 'refresh_after_revocation',
    ]);
    expect(report.ok).toBe(true);
  });

  it('is sent to the sign-in page, signs in, and comes back to the authorization endpoint', () => {
    expect(report.steps.find((s) => s.step === 'authorize')).toEqual({ step: 'authorize', status: 303, location: '/login' });
    expect(report.steps.find((s) => s.step === 'login')).toEqual({ step: 'login', status: 303, location: '/oauth2/authorize', session: true });
  });

  it('gets a consent form carrying a CSRF token, and a 303 to the redirect URI with code, state and iss', () => {
    expect(report.steps.find((s) => s.step === 'consent_page')).toMatchObject({ status: 200, fields: expect.arrayContaining(['csrf_token']) });
    expect(report.steps.find((s) => s.step === 'consent')).toEqual({
      step: 'consent', status: 303, redirect: app.redirectUri, params: ['code', 'iss', 'state'], iss: t.url, state_matches: true,
    });
  });

  it('redeems the code for a Bearer token response with a refresh token', () => {
    expect(report.token).toMatchObject({
      token_type: 'bearer', // as openid-client normalises it
      wire_token_type: 'Bearer', // as the server sent it
      expires_in: 900,
      scope: 'openid profile email offline_access',
      has_access_token: true,
      has_refresh_token: true,
    });
  });

  it('gets an ID token about the user, for this client, with the nonce', () => {
    expect(report.token?.id_token_claims).toEqual({
      iss: t.url,
      sub: user.id,
      aud: app.clientId,
      nonce: expect.any(String),
      auth_time: expect.any(Number),
      iat: expect.any(Number),
      exp: expect.any(Number),
    });
  });

  it('refreshes: a new refresh token and a new access token', () => {
    expect(report.refresh).toEqual({
      token_type: 'bearer',
      wire_token_type: 'Bearer',
      scope: 'openid profile email offline_access',
      new_refresh_token: true,
      new_access_token: true,
      id_token_sub: user.id,
    });
  });

  it('reads userinfo about the same subject as the ID token, with the profile and email claims', () => {
    expect(report.userinfo).toEqual({
      sub: report.token?.id_token_claims.sub,
      name: 'Olivia Ng',
      given_name: 'Olivia',
      family_name: 'Ng',
      email: 'olivia@example.com',
      registered_at: expect.any(Number),
    });
  });

  it('cannot refresh with a revoked refresh token: invalid_grant', () => {
    expect(report.refresh_after_revocation).toMatchObject({ ok: false, error: 'invalid_grant', status: 400 });
  });
});
