import request from 'supertest';
import { CryptoService } from '../../src/common/crypto/crypto.service';
import { bootApp, TestApp } from '../helpers/app';
import { basic, createApp, expectInvalidClient, RegisteredApp } from '../helpers/clients';
import { signIn } from '../helpers/identity';

/**
 * Client authentication at the token endpoint (RFC 6749 §2.3, SPEC §4). The grant type `urn:example:nothing` is
 * not supported, so a client that authenticated gets 400 unsupported_grant_type — authentication runs first.
 */
const PROBE = { grant_type: 'urn:example:nothing' };
const AUTHENTICATED = { error: 'unsupported_grant_type', error_description: expect.any(String) };
const INVALID_CLIENT = { error: 'invalid_client', error_description: expect.any(String) };

describe('client authentication', () => {
  let t: TestApp;
  let admin: string;
  let confidential: RegisteredApp;
  let postApp: RegisteredApp;
  let publicApp: RegisteredApp;
  const token = () => request(t.url).post('/oauth2/token').type('form');

  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
    confidential = await createApp(t, admin);
    postApp = await createApp(t, admin, { token_endpoint_auth_method: 'client_secret_post' });
    publicApp = await createApp(t, admin, { token_endpoint_auth_method: 'none' });
  });
  afterAll(() => t.close());

  describe('client_secret_basic', () => {
    it('accepts the right credentials', async () => {
      const res = await token().set('Authorization', basic(confidential.clientId, confidential.clientSecret!)).send(PROBE);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(AUTHENTICATED);
    });

    it('form-decodes each part: a secret sent fully percent-encoded still matches', async () => {
      const encoded = [...confidential.clientSecret!].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
      const header = `Basic ${Buffer.from(`${confidential.clientId}:${encoded}`).toString('base64')}`;
      const res = await token().set('Authorization', header).send(PROBE);
      expect(res.body).toEqual(AUTHENTICATED);
    });

    it('splits at the first colon only: an encoded ":" in the id names another (unknown) client', async () => {
      const header = `Basic ${Buffer.from(`${confidential.clientId}%3Ax:${confidential.clientSecret}`).toString('base64')}`;
      const res = await token().set('Authorization', header).send(PROBE);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(INVALID_CLIENT);
    });

    it('refuses a wrong secret with 401 invalid_client and a Basic challenge', async () => {
      const res = await token().set('Authorization', basic(confidential.clientId, 'wrong-secret')).send(PROBE);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(INVALID_CLIENT);
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it.each([
      ['a colon inside the secret', (s: string) => `${s}:extra`],
      ['a percent sign', (s: string) => `${s}%`],
      ['non-ASCII characters', (s: string) => `${s}ü€`],
      ['a plus sign (a space once decoded)', (s: string) => `${s}+`],
    ])('refuses a secret with %s (never a 500)', async (_name, mangle) => {
      const res = await token().set('Authorization', basic(confidential.clientId, mangle(confidential.clientSecret!))).send(PROBE);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(INVALID_CLIENT);
    });

    it.each([
      ['no colon', `Basic ${Buffer.from('just-an-id').toString('base64')}`],
      ['not base64', 'Basic ***'],
      ['a malformed percent-encoding', `Basic ${Buffer.from('%E0%A4%A:secret').toString('base64')}`],
      ['raw non-ASCII bytes', `Basic ${Buffer.from('clïent:sécret', 'latin1').toString('base64')}`],
    ])('refuses malformed credentials (%s) with 401, never 500', async (_name, header) => {
      const res = await token().set('Authorization', header).send(PROBE);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(INVALID_CLIENT);
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    });

    it('refuses a public client presenting a secret', async () => {
      const res = await token().set('Authorization', basic(publicApp.clientId, 'anything')).send(PROBE);
      expect(res.status).toBe(401);
    });
  });

  describe('client_secret_post', () => {
    it('accepts the right credentials, form-encoded', async () => {
      const res = await token().send({ ...PROBE, client_id: postApp.clientId, client_secret: postApp.clientSecret });
      expect(res.body).toEqual(AUTHENTICATED);
    });

    it('accepts the right credentials as JSON', async () => {
      const res = await request(t.url).post('/oauth2/token').send({ ...PROBE, client_id: postApp.clientId, client_secret: postApp.clientSecret });
      expect(res.body).toEqual(AUTHENTICATED);
    });

    it('refuses a wrong secret with 401 and no Basic challenge', async () => {
      const res = await token().send({ ...PROBE, client_id: postApp.clientId, client_secret: 'wrong' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(INVALID_CLIENT);
      expect(res.headers['www-authenticate']).toBeUndefined();
    });

    it('refuses a repeated client_secret with invalid_request', async () => {
      const res = await token().send(`grant_type=x&client_id=${postApp.clientId}&client_secret=a&client_secret=b`);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });

    it('refuses the right secret sent with HTTP Basic: the app registered client_secret_post (SPEC §4)', async () => {
      const res = await token().set('Authorization', basic(postApp.clientId, postApp.clientSecret!)).send(PROBE);
      expectInvalidClient(res);
    });

    it('refuses an app registered for client_secret_basic sending its right secret in the body (SPEC §4)', async () => {
      const res = await token().send({ ...PROBE, client_id: confidential.clientId, client_secret: confidential.clientSecret });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(INVALID_CLIENT);
    });

    it('refuses a secret longer than bcrypt reads, even when its first 72 bytes match', async () => {
      const res = await token().send({ ...PROBE, client_id: postApp.clientId, client_secret: postApp.clientSecret + 'x'.repeat(40) });
      expect(res.status).toBe(401);
    });
  });

  describe('none (public clients)', () => {
    it('accepts a public client by its client_id alone', async () => {
      const res = await token().send({ ...PROBE, client_id: publicApp.clientId });
      expect(res.body).toEqual(AUTHENTICATED);
    });

    it('refuses a confidential client without its secret', async () => {
      const res = await token().send({ ...PROBE, client_id: confidential.clientId });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(INVALID_CLIENT);
    });
  });

  describe('exactly one method', () => {
    it('refuses HTTP Basic together with client_secret in the body: invalid_request', async () => {
      const res = await token().set('Authorization', basic(confidential.clientId, confidential.clientSecret!))
        .send({ ...PROBE, client_id: confidential.clientId, client_secret: confidential.clientSecret });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });

    it('refuses a body client_id that differs from the Basic one', async () => {
      const res = await token().set('Authorization', basic(confidential.clientId, confidential.clientSecret!))
        .send({ ...PROBE, client_id: publicApp.clientId });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });

    it('refuses a request with no client at all', async () => {
      const res = await token().send(PROBE);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(INVALID_CLIENT);
    });

    it('refuses an unknown client_id', async () => {
      const res = await token().set('Authorization', basic('no-such-client', 'secret')).send(PROBE);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(INVALID_CLIENT);
    });
  });

  describe('the verification cache', () => {
    let fresh: RegisteredApp;
    let verify: jest.SpyInstance;
    beforeAll(async () => {
      fresh = await createApp(t, admin);
      verify = jest.spyOn(t.app.get(CryptoService), 'verifyPassword');
    });
    afterAll(() => verify.mockRestore());
    beforeEach(() => verify.mockClear());

    const authenticate = (secret: string) => token().set('Authorization', basic(fresh.clientId, secret)).send(PROBE);

    it('pays for bcrypt on the first verification of a client and secret', async () => {
      expect((await authenticate(fresh.clientSecret!)).body).toEqual(AUTHENTICATED);
      expect(verify).toHaveBeenCalledTimes(1);
    });

    it('does not call bcrypt again for the same client and secret', async () => {
      for (let i = 0; i < 3; i++) expect((await authenticate(fresh.clientSecret!)).body).toEqual(AUTHENTICATED);
      expect(verify).not.toHaveBeenCalled();
    });

    it('always calls bcrypt for a wrong secret, which is never cached', async () => {
      for (let i = 0; i < 3; i++) expect((await authenticate('wrong-secret')).status).toBe(401);
      expect(verify).toHaveBeenCalledTimes(3);
    });

    it('forgets a rotated secret at once: the old one fails, the new one works', async () => {
      const rotated = await request(t.url).post(`/api/v1/oauth2/apps/${fresh.id}/secret`).set('Cookie', admin);
      expect(rotated.status).toBe(200);
      expect((await authenticate(fresh.clientSecret!)).status).toBe(401);
      expect((await authenticate(rotated.body.client_secret)).body).toEqual(AUTHENTICATED);
    });

    it('forgets a deleted client at once', async () => {
      const doomed = await createApp(t, admin);
      const auth = () => token().set('Authorization', basic(doomed.clientId, doomed.clientSecret!)).send(PROBE);
      expect((await auth()).body).toEqual(AUTHENTICATED);
      expect((await request(t.url).delete(`/api/v1/oauth2/apps/${doomed.id}`).set('Cookie', admin)).status).toBe(204);
      expect((await auth()).status).toBe(401);
    });
  });
});

describe('client authentication: failed secrets are limited', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  const attempt = (app: RegisteredApp, secret: string) =>
    request(t.url).post('/oauth2/token').type('form').set('Authorization', basic(app.clientId, secret)).send({ grant_type: 'client_credentials' });

  it('answers 429 with Retry-After once 20 secrets were tried in parallel, charged before bcrypt runs', async () => {
    const app = await createApp(t, admin, { grant_types: ['client_credentials'], redirect_uris: undefined });
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => attempt(app, `guess-${i}`).then((r) => r.status)));
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(20);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    const blocked = await attempt(app, app.clientSecret!);
    expect(blocked.status).toBe(429);
    expect(blocked.body).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringMatching(/\S/) });
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('gives a successful verification back, so a working client is never locked out by its own requests', async () => {
    const app = await createApp(t, admin, { grant_types: ['client_credentials'], redirect_uris: undefined });
    for (let i = 0; i < 25; i++) expect((await attempt(app, app.clientSecret!)).status).toBe(200);
  });

  it('lets a busy client in with its right secret before it is cached: parallel requests share one verification', async () => {
    const app = await createApp(t, admin, { grant_types: ['client_credentials'], redirect_uris: undefined });
    const verify = jest.spyOn(t.app.get(CryptoService), 'verifyPassword');
    try {
      const statuses = await Promise.all(Array.from({ length: 40 }, () => attempt(app, app.clientSecret!).then((r) => r.status)));
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      expect(verify).toHaveBeenCalledTimes(1);
    } finally {
      verify.mockRestore();
    }
  });
});
