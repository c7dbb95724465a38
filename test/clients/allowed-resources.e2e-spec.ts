import { decodeJwt } from 'jose';
import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, RegisteredApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { signIn } from '../helpers/identity';
import { authorizeAndConsent, authorizeParams, consentForm, getAuthorize, Params, pkce, postDecision } from '../helpers/oauth';
import { field, expectProblem } from '../helpers/problem';
import { exchange, expectErrorPage, expectErrorRedirect, oauthError, refresh, registerApp, WITH_REFRESH } from '../helpers/protocol';

/**
 * Admins can restrict resources (issue 14, item 5): an app's `allowed_resources` lists the RFC 8707 resources it
 * may ask for; any other is invalid_target at the authorization and the token endpoint, and a list narrowed later
 * bites on the next refresh. The issuer itself — named, or implied by naming no resource — is always allowed.
 * Null (the default) is no limit.
 */

const NOTES = 'https://notes.example.com/api';
const FILES = 'https://files.example.com/api';
const OTHER = 'https://other.example.com/api';

describe('allowed resources of an app', () => {
  let t: TestApp;
  let admin: string;
  let issuer: string;

  beforeAll(async () => {
    t = await bootApp({ env: { OAUTH2_DCR_ENABLED: 'true' } });
    admin = await signIn(t);
    issuer = t.config.authorizationServer.issuerUrl;
  });
  afterAll(() => t.close());

  const adminApi = () => request(t.url);
  const getApp = (app: RegisteredApp) => adminApi().get(`/api/v1/oauth2/apps/${app.id}`).set('Cookie', admin);
  const patchApp = (app: RegisteredApp, body: Record<string, unknown>) => adminApi().patch(`/api/v1/oauth2/apps/${app.id}`).set('Cookie', admin).send(body);

  /** A confidential app with refresh tokens and client_credentials, limited to `allowed` (absent: no limit). */
  const restricted = (allowed?: string[] | null) =>
    createApp(t, admin, {
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      scope: 'openid profile offline_access',
      ...(allowed === undefined ? {} : { allowed_resources: allowed }),
    });

  /** Authorize (with consent) and exchange; `resource` on the authorization request, `exchangeExtra` on the exchange. */
  async function tokens(app: RegisteredApp, resource?: string | string[], exchangeExtra: Record<string, string> = {}) {
    const { code, verifier } = await authorizeAndConsent(t, app, admin, { ...WITH_REFRESH, resource });
    const res = await exchange(t, app, code, verifier, exchangeExtra);
    if (res.status !== 200) throw new Error(`exchange failed: ${res.status} ${res.text}`);
    return res.body as { access_token: string; refresh_token: string };
  }

  /** An authorization request of a signed-in user, answered at once (redirect) or with the consent page. */
  const authorize = (app: RegisteredApp, extra: Params) => getAuthorize(t, authorizeParams(app, pkce().challenge, { state: 'st-1', ...extra }), admin);

  const clientCredentials = (app: RegisteredApp, body: Record<string, string> = {}) =>
    request(t.url).post('/oauth2/token').type('form').set('Authorization', basic(app.clientId, app.clientSecret!)).send({ grant_type: 'client_credentials', ...body });

  const audience = (token: string) => decodeJwt(token).aud;

  /** A self-registered app as the admin API shows it: a client knows only its client_id, an admin the app's id. */
  async function selfRegistered(app: RegisteredApp): Promise<RegisteredApp> {
    const [row] = await sql<{ id: string }>(t, 'SELECT id FROM apps WHERE client_id = $1', [app.clientId]);
    return { ...app, id: row.id };
  }

  describe('the admin API', () => {
    it('leaves an app unrestricted by default: allowed_resources is null', async () => {
      const app = await restricted();
      expect((await getApp(app)).body.allowed_resources).toBeNull();
    });

    it('stores the list given at creation, without repeats, and shows it', async () => {
      const res = await adminApi().post('/api/v1/oauth2/apps').set('Cookie', admin)
        .send({ name: 'limited', redirect_uris: ['https://app.example.com/cb'], allowed_resources: [NOTES, FILES, NOTES] });
      expect(res.status).toBe(201);
      expect(res.body.allowed_resources).toEqual([NOTES, FILES]);
      expect((await adminApi().get(`/api/v1/oauth2/apps/${res.body.id}`).set('Cookie', admin)).body.allowed_resources).toEqual([NOTES, FILES]);
    });

    it('sets the list by PATCH', async () => {
      const app = await restricted();
      const res = await patchApp(app, { allowed_resources: [NOTES] });
      expect([res.status, res.body.allowed_resources]).toEqual([200, [NOTES]]);
    });

    it('keeps the list when a PATCH leaves it out', async () => {
      const app = await restricted([NOTES]);
      const res = await patchApp(app, { display_name: 'Renamed' });
      expect([res.status, res.body.allowed_resources]).toEqual([200, [NOTES]]);
    });

    it('lifts the limit with a PATCH to null', async () => {
      const app = await restricted([NOTES]);
      const res = await patchApp(app, { allowed_resources: null });
      expect([res.status, res.body.allowed_resources]).toEqual([200, null]);
    });

    it('accepts an empty list: nothing but this server itself', async () => {
      const app = await restricted([]);
      expect((await getApp(app)).body.allowed_resources).toEqual([]);
    });

    it.each([
      ['a relative URI', ['/api'], 'allowed_resources.0'],
      ['a URI with a fragment', [NOTES, 'https://notes.example.com/api#v2'], 'allowed_resources.1'],
      ['a URI with a space', ['https://notes.example.com/my api'], 'allowed_resources.0'],
      ['an empty string', [''], 'allowed_resources.0'],
      ['a number', [42], 'allowed_resources.0'],
      ['a bidirectional control', ['https://notes.example.com/\u202eipa'], 'allowed_resources.0'],
      ['a string instead of a list', NOTES, 'allowed_resources'],
      ['more than 20 URIs', Array.from({ length: 21 }, (_, i) => `https://api${i}.example.com/`), 'allowed_resources'],
    ])('refuses %s with a validation_error naming the field', async (_name, value, name) => {
      const res = await adminApi().post('/api/v1/oauth2/apps').set('Cookie', admin)
        .send({ name: 'bad-resources', redirect_uris: ['https://app.example.com/cb'], allowed_resources: value });
      expectProblem(res, 400, 'validation_error', [field(name)]);
    });

    it('refuses a bad list in a PATCH and keeps the old one', async () => {
      const app = await restricted([NOTES]);
      expectProblem(await patchApp(app, { allowed_resources: ['not a uri'] }), 400, 'validation_error', [field('allowed_resources.0')]);
      expect((await getApp(app)).body.allowed_resources).toEqual([NOTES]);
    });

    it('is not taken from a dynamic registration (RFC 7591): the field is ignored', async () => {
      const res = await request(t.url).post('/oauth2/register')
        .send({ client_name: 'Self-registered', redirect_uris: ['https://self.example.net/cb'], allowed_resources: [NOTES] });
      expect(res.status).toBe(201);
      expect(res.body.allowed_resources).toBeUndefined();
      const app = await selfRegistered({ id: '', clientId: res.body.client_id, redirectUri: 'https://self.example.net/cb' });
      expect((await getApp(app)).body.allowed_resources).toBeNull();
    });
  });

  describe('the authorization endpoint', () => {
    it('issues a code for a listed resource, for a token with that audience', async () => {
      const app = await restricted([NOTES, FILES]);
      expect(audience((await tokens(app, NOTES)).access_token)).toBe(NOTES);
    });

    it('redirects an unlisted resource back with invalid_target, state and iss', async () => {
      const app = await restricted([NOTES]);
      expectErrorRedirect(await authorize(app, { resource: OTHER }), app, 'invalid_target', 'st-1', issuer);
    });

    it('refuses the request when any one of its resources is unlisted', async () => {
      const app = await restricted([NOTES]);
      expectErrorRedirect(await authorize(app, { resource: [NOTES, OTHER] }), app, 'invalid_target', 'st-1', issuer);
    });

    it('allows a request naming no resource: the token is for this server', async () => {
      const app = await restricted([NOTES]);
      expect(audience((await tokens(app)).access_token)).toBe(issuer);
    });

    it('allows the issuer named as the resource, though not listed', async () => {
      const app = await restricted([]);
      expect(audience((await tokens(app, issuer)).access_token)).toBe(issuer);
    });

    it('allows any resource to an app without a list', async () => {
      const app = await restricted();
      expect(audience((await tokens(app, OTHER)).access_token)).toBe(OTHER);
    });

    it('obeys a PATCH at once: a resource just removed is refused by the next request', async () => {
      const app = await restricted([NOTES, FILES]);
      await tokens(app, FILES);
      expect((await patchApp(app, { allowed_resources: [NOTES] })).status).toBe(200);
      expectErrorRedirect(await authorize(app, { resource: FILES }), app, 'invalid_target', 'st-1', issuer);
    });

    it('checks the consent decision again: a resource removed while the page was open gets no code', async () => {
      const app = await restricted([NOTES]);
      const page = await authorize(app, { resource: NOTES });
      expect(page.status).toBe(200);
      expect((await patchApp(app, { allowed_resources: [] })).status).toBe(200);
      expectErrorRedirect(await postDecision(t, admin, consentForm(page.text), { decision: 'allow' }), app, 'invalid_target', 'st-1', issuer);
    });

    it('shows the error on the page for a self-registered app nobody vouched for (SPEC §3 step 2)', async () => {
      const app = await selfRegistered(await registerApp(t));
      expect((await patchApp(app, { allowed_resources: [NOTES] })).status).toBe(200);
      const res = await authorize(app, { resource: OTHER });
      expectErrorPage(res);
      expect(res.text).toContain('invalid_target');
    });
  });

  describe('the token endpoint', () => {
    it('refuses a code exchange naming a resource removed from the list since: invalid_target', async () => {
      const app = await restricted([NOTES, FILES]);
      const { code, verifier } = await authorizeAndConsent(t, app, admin, { ...WITH_REFRESH, resource: [NOTES, FILES] });
      await patchApp(app, { allowed_resources: [NOTES] });
      const res = await exchange(t, app, code, verifier, { resource: FILES });
      expect([res.status, res.body]).toEqual([400, oauthError('invalid_target')]);
    });

    it('leaves a resource removed since out of the audience of a code exchange naming none', async () => {
      const app = await restricted([NOTES, FILES]);
      const { code, verifier } = await authorizeAndConsent(t, app, admin, { ...WITH_REFRESH, resource: [NOTES, FILES] });
      await patchApp(app, { allowed_resources: [NOTES] });
      const res = await exchange(t, app, code, verifier);
      expect([res.status, audience(res.body.access_token)]).toEqual([200, NOTES]);
    });

    it('refuses a refresh naming a resource removed from the list since: invalid_target', async () => {
      const app = await restricted([NOTES, FILES]);
      const { refresh_token } = await tokens(app, [NOTES, FILES]);
      await patchApp(app, { allowed_resources: [NOTES] });
      const res = await refresh(t, app, refresh_token, { resource: FILES });
      expect([res.status, res.body]).toEqual([400, oauthError('invalid_target')]);
    });

    it('keeps the refresh token usable after a refused refresh', async () => {
      const app = await restricted([NOTES, FILES]);
      const { refresh_token } = await tokens(app, [NOTES, FILES]);
      await patchApp(app, { allowed_resources: [NOTES] });
      expect((await refresh(t, app, refresh_token, { resource: FILES })).status).toBe(400);
      expect((await refresh(t, app, refresh_token, { resource: NOTES })).status).toBe(200);
    });

    it('drops a resource removed from the list since out of the audience of the next refresh', async () => {
      const app = await restricted([NOTES, FILES]);
      const { refresh_token } = await tokens(app, [NOTES, FILES]);
      await patchApp(app, { allowed_resources: [NOTES] });
      const res = await refresh(t, app, refresh_token);
      expect([res.status, audience(res.body.access_token)]).toEqual([200, NOTES]);
    });

    it('refuses a refresh whose resources are all removed from the list since, rather than switch its audience', async () => {
      const app = await restricted([NOTES]);
      const { refresh_token } = await tokens(app, NOTES);
      await patchApp(app, { allowed_resources: [FILES] });
      const res = await refresh(t, app, refresh_token);
      expect([res.status, res.body]).toEqual([400, oauthError('invalid_target')]);
    });

    it('refreshes a token for this server whatever the list says', async () => {
      const app = await restricted([NOTES]);
      const { refresh_token } = await tokens(app);
      await patchApp(app, { allowed_resources: [] });
      const res = await refresh(t, app, refresh_token);
      expect([res.status, audience(res.body.access_token)]).toEqual([200, issuer]);
    });

    it('gives a refresh token its resources back when the limit is lifted again', async () => {
      const app = await restricted([NOTES, FILES]);
      const first = await tokens(app, [NOTES, FILES]);
      await patchApp(app, { allowed_resources: [NOTES] });
      const narrowed = await refresh(t, app, first.refresh_token);
      await patchApp(app, { allowed_resources: null });
      const res = await refresh(t, app, narrowed.body.refresh_token);
      expect([res.status, audience(res.body.access_token)]).toEqual([200, [NOTES, FILES]]);
    });

    it('refuses client_credentials naming an unlisted resource: invalid_target', async () => {
      const app = await restricted([NOTES]);
      const res = await clientCredentials(app, { resource: OTHER });
      expect([res.status, res.body]).toEqual([400, oauthError('invalid_target')]);
    });

    it('issues client_credentials for a listed resource', async () => {
      const app = await restricted([NOTES]);
      const res = await clientCredentials(app, { resource: NOTES });
      expect([res.status, audience(res.body.access_token)]).toEqual([200, NOTES]);
    });

    it('issues client_credentials naming no resource for this server', async () => {
      const app = await restricted([NOTES]);
      const res = await clientCredentials(app);
      expect([res.status, audience(res.body.access_token)]).toEqual([200, issuer]);
    });

    it('issues client_credentials for any resource to an app without a list', async () => {
      const app = await restricted();
      const res = await clientCredentials(app, { resource: OTHER });
      expect([res.status, audience(res.body.access_token)]).toEqual([200, OTHER]);
    });
  });
});
