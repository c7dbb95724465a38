import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { createApp } from '../helpers/clients';
import { createUser, signIn } from '../helpers/identity';
import { expectProblem, field } from '../helpers/problem';
import { registerApp } from '../helpers/protocol';

/**
 * Names people read on the consent page (issue 12 item 1): NFC-normalised at registration, and refused when they
 * hold characters that can reorder or hide what they say — on both registration paths, RFC 7591 and the admin API.
 * And the admin API's review of a self-registered app (item 2), which turns it into one of the organisation's apps.
 */

/** One of each kind of character a name may not hold, with what it is. */
const UNSAFE: ReadonlyArray<readonly [string, string]> = [
  ['\u202A', 'LEFT-TO-RIGHT EMBEDDING'],
  ['\u202B', 'RIGHT-TO-LEFT EMBEDDING'],
  ['\u202C', 'POP DIRECTIONAL FORMATTING'],
  ['\u202D', 'LEFT-TO-RIGHT OVERRIDE'],
  ['\u202E', 'RIGHT-TO-LEFT OVERRIDE'],
  ['\u2066', 'LEFT-TO-RIGHT ISOLATE'],
  ['\u2067', 'RIGHT-TO-LEFT ISOLATE'],
  ['\u2068', 'FIRST STRONG ISOLATE'],
  ['\u2069', 'POP DIRECTIONAL ISOLATE'],
  ['\u200E', 'LEFT-TO-RIGHT MARK'],
  ['\u200F', 'RIGHT-TO-LEFT MARK'],
  ['\u061C', 'ARABIC LETTER MARK'],
  ['\u200B', 'ZERO WIDTH SPACE'],
  ['\u200C', 'ZERO WIDTH NON-JOINER'],
  ['\u200D', 'ZERO WIDTH JOINER'],
  ['\u2060', 'WORD JOINER'],
  ['\uFEFF', 'ZERO WIDTH NO-BREAK SPACE'],
  ['\u0007', 'C0 BELL'],
  ['\u001B', 'C0 ESCAPE'],
  ['\u007F', 'DELETE'],
  ['\u0085', 'C1 NEXT LINE'],
  ['\u009B', 'C1 CONTROL SEQUENCE INTRODUCER'],
  ['\u2028', 'LINE SEPARATOR'],
];
const hex = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

describe('app names and URLs at registration', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    // Every refused registration counts against the per-address limit too; this file registers well over 20.
    t = await bootApp({ env: { OAUTH2_DCR_ENABLED: 'true', OAUTH2_DCR_RATE_LIMIT: '0' } });
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  const register = (body: Record<string, unknown>) => request(t.url).post('/oauth2/register').send({ redirect_uris: ['https://x.example/cb'], ...body });

  describe('dynamic client registration (RFC 7591)', () => {
    it.each(UNSAFE)('refuses a client_name holding %j (%s) with invalid_client_metadata naming the character', async (char) => {
      const res = await register({ client_name: `Acme${char}Notes` });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_client_metadata', error_description: expect.stringContaining(hex(char)) });
    });

    it('stores and answers the name NFC-normalised and trimmed', async () => {
      const res = await register({ client_name: '  Cafe\u0301 Notes ' });
      expect(res.status).toBe(201);
      expect(res.body.client_name).toBe('Café Notes');
      expect(res.body.client_name).toBe('Caf\u00e9 Notes');
    });

    it('takes names in any script, and emoji that need no joiner', async () => {
      for (const name of ['פנקס', 'دفتر', '笔记本', 'Notes 📝']) {
        const res = await register({ client_name: name });
        expect({ name, status: res.status, answered: res.body.client_name }).toEqual({ name, status: 201, answered: name });
      }
    });

    it('refuses bidi and invisible characters in logo_uri, client_uri and redirect_uris', async () => {
      for (const [metadata, error] of [
        [{ logo_uri: 'https://x.example/\u202Egnp.png' }, 'invalid_client_metadata'],
        [{ client_uri: 'https://x.example/\u200B' }, 'invalid_client_metadata'],
        [{ redirect_uris: ['https://x.example/cb\u2066'] }, 'invalid_redirect_uri'],
      ] as const) {
        const res = await register(metadata);
        expect({ metadata, status: res.status, error: res.body.error }).toEqual({ metadata, status: 400, error });
      }
    });
  });

  describe('the admin API', () => {
    it.each([['name'], ['display_name']])('refuses a %s with a right-to-left override as a validation problem on that field', async (name) => {
      const res = await request(t.url).post('/api/v1/oauth2/apps').set('Cookie', admin)
        .send({ name: 'ok', redirect_uris: ['https://x.example/cb'], [name]: 'Acme\u202Egnp.exe' });
      expectProblem(res, 400, 'validation_error', [field(name)]);
    });

    it('refuses the same on PATCH, and changes nothing', async () => {
      const app = await createApp(t, admin, { name: 'patched', display_name: 'Patched' });
      const res = await request(t.url).patch(`/api/v1/oauth2/apps/${app.id}`).set('Cookie', admin).send({ display_name: 'Zero\u200Bwidth' });
      expectProblem(res, 400, 'validation_error', [field('display_name')]);
      expect((await request(t.url).get(`/api/v1/oauth2/apps/${app.id}`).set('Cookie', admin)).body.display_name).toBe('Patched');
    });

    it('stores names NFC-normalised', async () => {
      const res = await request(t.url).post('/api/v1/oauth2/apps').set('Cookie', admin)
        .send({ name: 'cafe\u0301', display_name: 'Cafe\u0301 Notes', redirect_uris: ['https://x.example/cb'] });
      expect(res.status).toBe(201);
      expect([res.body.name, res.body.display_name]).toEqual(['caf\u00e9', 'Caf\u00e9 Notes']);
    });
  });

  describe('POST /api/v1/oauth2/apps/{id}/review', () => {
    const idOf = async (clientId: string) => {
      const list = await request(t.url).get('/api/v1/oauth2/apps?per_page=100').set('Cookie', admin);
      return (list.body.items as { id: string; client_id: string }[]).find((a) => a.client_id === clientId)!.id;
    };

    it('makes a self-registered app one of the organisation’s, once', async () => {
      const dcr = await registerApp(t, { client_name: 'To Review' });
      const id = await idOf(dcr.clientId);
      const first = await request(t.url).post(`/api/v1/oauth2/apps/${id}/review`).set('Cookie', admin);
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ id, provenance: 'api', reviewed_at: expect.any(String) });
      const again = await request(t.url).post(`/api/v1/oauth2/apps/${id}/review`).set('Cookie', admin);
      expect(again.body.reviewed_at).toBe(first.body.reviewed_at);
      const grants = await request(t.url).get(`/api/v1/oauth2/apps/${id}`).set('Cookie', admin);
      expect(grants.body).toMatchObject({ provenance: 'api', reviewed_at: first.body.reviewed_at });
    });

    it('changes nothing for an app an admin added', async () => {
      const app = await createApp(t, admin, { name: 'added' });
      const res = await request(t.url).post(`/api/v1/oauth2/apps/${app.id}/review`).set('Cookie', admin);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ provenance: 'api', reviewed_at: null });
    });

    it('answers 404 for an unknown app and 403 for someone who is not an admin', async () => {
      expectProblem(await request(t.url).post('/api/v1/oauth2/apps/00000000-0000-4000-8000-000000000000/review').set('Cookie', admin), 404, 'not_found');
      const user = await createUser(t, admin, { username: 'not-admin' });
      const dcr = await registerApp(t, { client_name: 'Not Yours' });
      const res = await request(t.url).post(`/api/v1/oauth2/apps/${await idOf(dcr.clientId)}/review`).set('Cookie', await signIn(t, user.username, user.password));
      expectProblem(res, 403, 'forbidden');
    });
  });
});
