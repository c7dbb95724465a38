import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { bootApp, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { createServiceAccount, createUser, postLogin, signIn } from '../helpers/identity';
import { expectProblem, field } from '../helpers/problem';

/**
 * The admin API (SPEC §2): `/api/v1/users`, `/api/v1/orgs`, `/api/v1/service-accounts`, for admins only, answering
 * errors as RFC 7807 problem+json.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** `pcsa_` + 32 random bytes in base64url. */
const SERVICE_ACCOUNT_TOKEN = /^pcsa_[A-Za-z0-9_-]{43}$/;

let counter = 0;
/** A fresh name that fits the name rule, so tests never collide on uniqueness. */
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;


/**
 * Asserts an RFC 7807 answer of the /api routes: status, content type, and exactly
 * `{type, title, status, request_id, invalid_fields?}`.
 */

/** One entry of `invalid_fields`, for the field named at the top of the body. */

/** Nothing that looks like a password or a bcrypt hash may leave the server. */
function expectNoPasswordMaterial(res: request.Response, password?: string): void {
  expect(res.text).not.toMatch(/password|hash/i);
  expect(res.text).not.toMatch(/\$2[aby]\$\d\d\$/);
  if (password) expect(res.text).not.toContain(password);
}

const expectBearerChallenge = (res: request.Response) => expect(res.headers['www-authenticate']).toMatch(/^Bearer/);

/** A user's view, as the API shows it. */
const userShape = (u: Partial<Record<string, unknown>> = {}) => ({
  id: expect.stringMatching(UUID),
  username: expect.any(String),
  given_name: null,
  family_name: null,
  email: null,
  role: 'user',
  org_id: expect.stringMatching(UUID),
  registered_at: expect.stringMatching(ISO_DATE),
  ...u,
});

async function defaultOrgId(t: TestApp, cookie: string): Promise<string> {
  const res = await request(t.url).get('/api/v1/orgs').query({ per_page: 200 }).set('Cookie', cookie);
  const org = (res.body.items as { id: string; name: string }[]).find((o) => o.name === 'default');
  if (!org) throw new Error('no default org');
  return org.id;
}

async function createOrg(t: TestApp, cookie: string, name = unique('org')): Promise<{ id: string; name: string }> {
  const res = await request(t.url).post('/api/v1/orgs').set('Cookie', cookie).send({ name });
  if (res.status !== 201) throw new Error(`creating org ${name} failed: ${res.status} ${res.text}`);
  return res.body;
}

/** Every admin route, with a body that would succeed if the caller were let through. */
const ADMIN_ROUTES: [method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: () => object][] = [
  ['post', '/api/v1/users', () => ({ username: unique('intruder'), password: 'password-1234' })],
  ['get', '/api/v1/users'],
  ['get', '/api/v1/users/:id'],
  ['patch', '/api/v1/users/:id', () => ({ role: 'admin' })],
  ['delete', '/api/v1/users/:id'],
  ['post', '/api/v1/orgs', () => ({ name: unique('intruder-org') })],
  ['get', '/api/v1/orgs'],
  ['get', '/api/v1/orgs/:id'],
  ['patch', '/api/v1/orgs/:id', () => ({ display_name: 'taken over' })],
  ['delete', '/api/v1/orgs/:id'],
  ['post', '/api/v1/service-accounts', () => ({ name: unique('intruder-sa'), role: 'admin' })],
  ['get', '/api/v1/service-accounts'],
  ['get', '/api/v1/service-accounts/:id'],
  ['patch', '/api/v1/service-accounts/:id', () => ({ role: 'admin' })],
  ['post', '/api/v1/service-accounts/:id/revoke'],
  ['delete', '/api/v1/service-accounts/:id'],
];

/** Sends one admin route with the `:id` filled in and its body, for the caller `authorise` sets up. */
function callRoute(t: TestApp, [method, path, body]: (typeof ADMIN_ROUTES)[number], id: string = randomUUID()): request.Test {
  const req = request(t.url)[method](path.replace(':id', id));
  return body ? req.send(body()) : req;
}

describe('admin API: users', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  const post = (body: object) => request(t.url).post('/api/v1/users').set('Cookie', admin).send(body);

  describe('create', () => {
    it('answers 201 with exactly the user fields, in the default org', async () => {
      const username = unique('alice');
      const res = await post({ username, password: 'correct horse battery', given_name: 'Alice', family_name: 'Liddell', email: 'alice@example.com' });
      expect(res.status).toBe(201);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual(userShape({ username, given_name: 'Alice', family_name: 'Liddell', email: 'alice@example.com', org_id: await defaultOrgId(t, admin) }));
      expect(Date.now() - Date.parse(res.body.registered_at)).toBeLessThan(60_000);
    });

    it('never shows the password or its hash', async () => {
      const res = await post({ username: unique('secretive'), password: 'do-not-echo-me-42' });
      expect(res.status).toBe(201);
      expectNoPasswordMaterial(res, 'do-not-echo-me-42');
    });

    it('defaults the optional fields to null and the role to user', async () => {
      const username = unique('minimal');
      const res = await post({ username, password: 'password-1234' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual(userShape({ username }));
    });

    it('creates an admin when asked', async () => {
      const res = await post({ username: unique('second-admin'), password: 'password-1234', role: 'admin' });
      expect(res.status).toBe(201);
      expect(res.body.role).toBe('admin');
    });

    it('places the user in the org named by org_id', async () => {
      const org = await createOrg(t, admin);
      const res = await post({ username: unique('member'), password: 'password-1234', org_id: org.id });
      expect(res.status).toBe(201);
      expect(res.body.org_id).toBe(org.id);
    });

    it('places the user in the default org when org_id is null (the example of the API document)', async () => {
      const res = await post({ username: unique('defaulted'), password: 'password-1234', org_id: null });
      expect(res.status).toBe(201);
      expect(res.body.org_id).toBe(await defaultOrgId(t, admin));
    });

    it('keeps the username as written', async () => {
      const username = unique('MixedCase');
      const res = await post({ username, password: 'password-1234' });
      expect(res.body.username).toBe(username);
    });

    it('creates a user who can sign in with the password', async () => {
      const user = await createUser(t, admin, { username: unique('signer') });
      expect((await postLogin(t, user.username, user.password)).status).toBe(303);
    });

    it('accepts a password of exactly 72 bytes', async () => {
      const res = await post({ username: unique('long-pw'), password: 'é'.repeat(36) });
      expect(res.status).toBe(201);
    });

    it('refuses a taken username, case-insensitively: 409 conflict naming the field', async () => {
      const base = unique('bob');
      await createUser(t, admin, { username: base });
      const res = await post({ username: base.replace('bob', 'Bob'), password: 'password-1234' });
      expectProblem(res, 409, 'conflict', [field('username', 'not_unique')]);
    });

    it('refuses the bootstrap admin name in another case', async () => {
      const res = await post({ username: 'ADMIN', password: 'password-1234' });
      expectProblem(res, 409, 'conflict', [field('username', 'not_unique')]);
    });

    it('refuses wrong types field by field', async () => {
      const res = await post({ username: 42, password: 12345678, given_name: 7, role: true });
      expectProblem(res, 400, 'validation_error', expect.arrayContaining([field('username'), field('password'), field('given_name'), field('role')]) as unknown as unknown[]);
      expect(JSON.parse(res.text).invalid_fields).toHaveLength(4);
    });

    it('refuses a body without username and password', async () => {
      const res = await post({ given_name: 'Nobody' });
      expectProblem(res, 400, 'validation_error', expect.arrayContaining([field('username'), field('password')]) as unknown as unknown[]);
      expect(JSON.parse(res.text).invalid_fields).toHaveLength(2);
    });

    it('refuses a missing password', async () => {
      expectProblem(await post({ username: unique('no-pw') }), 400, 'validation_error', [field('password')]);
    });

    it('refuses a password shorter than 8 characters', async () => {
      expectProblem(await post({ username: unique('short-pw'), password: 'short' }), 400, 'validation_error', [field('password')]);
    });

    it('refuses a password over 72 bytes, which bcrypt would silently truncate', async () => {
      expectProblem(await post({ username: unique('huge-pw'), password: 'a'.repeat(73) }), 400, 'validation_error', [field('password')]);
    });

    it('counts the password in bytes, not characters (37 × "é" = 74 bytes)', async () => {
      expectProblem(await post({ username: unique('utf8-pw'), password: 'é'.repeat(37) }), 400, 'validation_error', [field('password')]);
    });

    it('refuses a malformed email', async () => {
      expectProblem(await post({ username: unique('mail'), password: 'password-1234', email: 'not-an-email' }), 400, 'validation_error', [field('email')]);
    });

    it('refuses an unknown role', async () => {
      expectProblem(await post({ username: unique('root'), password: 'password-1234', role: 'root' }), 400, 'validation_error', [field('role')]);
    });

    it('refuses a username outside the name rule', async () => {
      expectProblem(await post({ username: 'has space', password: 'password-1234' }), 400, 'validation_error', [field('username')]);
    });

    it('refuses a repeated field sent as an array', async () => {
      expectProblem(await post({ username: ['a', 'b'], password: 'password-1234' }), 400, 'validation_error', [field('username')]);
    });

    it('refuses an org_id that is not a uuid', async () => {
      expectProblem(await post({ username: unique('bad-org'), password: 'password-1234', org_id: 'acme' }), 400, 'validation_error', [field('org_id')]);
    });

    it('refuses an org_id naming no org: reference_not_found', async () => {
      const res = await post({ username: unique('lost'), password: 'password-1234', org_id: randomUUID() });
      expectProblem(res, 400, 'validation_error', [field('org_id', 'reference_not_found')]);
    });

    it('creates nothing when refused', async () => {
      const username = unique('refused');
      await post({ username, password: 'short' });
      const list = await request(t.url).get('/api/v1/users').query({ per_page: 200 }).set('Cookie', admin);
      expect((list.body.items as { username: string }[]).map((u) => u.username)).not.toContain(username);
    });
  });

  describe('list', () => {
    it('answers a page: {items, total, page, per_page} with the defaults 1 and 50', async () => {
      const res = await request(t.url).get('/api/v1/users').set('Cookie', admin);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: expect.any(Array), total: expect.any(Number), page: 1, per_page: 50 });
      expect(res.body.items.length).toBe(Math.min(res.body.total, 50));
    });

    it('shows every user with exactly the user fields', async () => {
      const created = await createUser(t, admin, { username: unique('listed'), given_name: 'Lis', email: 'lis@example.com' });
      const res = await request(t.url).get('/api/v1/users').query({ per_page: 200 }).set('Cookie', admin);
      for (const item of res.body.items) expect(item).toEqual(userShape({ role: expect.stringMatching(/^(admin|user)$/), given_name: item.given_name, family_name: item.family_name, email: item.email }));
      expect(res.body.items).toContainEqual(userShape({ id: created.id, username: created.username, given_name: 'Lis', email: 'lis@example.com' }));
    });

    it('lists the bootstrap admin', async () => {
      const res = await request(t.url).get('/api/v1/users').query({ per_page: 200 }).set('Cookie', admin);
      expect(res.body.items).toContainEqual(userShape({ username: 'admin', role: 'admin' }));
    });

    it('never shows a password or hash', async () => {
      await createUser(t, admin, { username: unique('hidden'), password: 'hidden-password-99' });
      const res = await request(t.url).get('/api/v1/users').query({ per_page: 200 }).set('Cookie', admin);
      expectNoPasswordMaterial(res, 'hidden-password-99');
    });

    it('pages with ?page&per_page in a stable order', async () => {
      await createUser(t, admin, { username: unique('page-a') });
      await createUser(t, admin, { username: unique('page-b') });
      await createUser(t, admin, { username: unique('page-c') });
      const all = await request(t.url).get('/api/v1/users').query({ per_page: 200 }).set('Cookie', admin);
      const res = await request(t.url).get('/api/v1/users').query({ page: 2, per_page: 2 }).set('Cookie', admin);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: all.body.items.slice(2, 4), total: all.body.total, page: 2, per_page: 2 });
    });

    it('answers an empty page past the end, with the total', async () => {
      const res = await request(t.url).get('/api/v1/users').query({ page: 1000, per_page: 10 }).set('Cookie', admin);
      expect(res.body).toEqual({ items: [], total: expect.any(Number), page: 1000, per_page: 10 });
      expect(res.body.total).toBeGreaterThan(0);
    });

    it.each([['per_page', '0'], ['per_page', '201'], ['page', '0'], ['page', 'abc'], ['per_page', '1.5']])('refuses %s=%s with 400 validation_error', async (name, value) => {
      const res = await request(t.url).get('/api/v1/users').query({ [name]: value }).set('Cookie', admin);
      expectProblem(res, 400, 'validation_error', [{ name, error: 'invalid_value', title: expect.stringMatching(/\S/), pointer: expect.any(String) }]);
    });
  });

  describe('get', () => {
    it('answers the user with exactly the user fields', async () => {
      const user = await createUser(t, admin, { username: unique('got'), family_name: 'Got' });
      const res = await request(t.url).get(`/api/v1/users/${user.id}`).set('Cookie', admin);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(userShape({ id: user.id, username: user.username, family_name: 'Got', org_id: await defaultOrgId(t, admin) }));
    });

    it('never shows the password or hash', async () => {
      const user = await createUser(t, admin, { username: unique('got-secret') });
      expectNoPasswordMaterial(await request(t.url).get(`/api/v1/users/${user.id}`).set('Cookie', admin), user.password);
    });

    it('answers 404 not_found for an unknown id', async () => {
      expectProblem(await request(t.url).get(`/api/v1/users/${randomUUID()}`).set('Cookie', admin), 404, 'not_found');
    });

    it('answers 404 not_found for an id that is not a uuid', async () => {
      expectProblem(await request(t.url).get('/api/v1/users/not-a-uuid').set('Cookie', admin), 404, 'not_found');
    });
  });

  describe('update', () => {
    const patch = (id: string, body: object) => request(t.url).patch(`/api/v1/users/${id}`).set('Cookie', admin).send(body);

    it('changes the given fields and answers the whole user', async () => {
      const user = await createUser(t, admin, { username: unique('patched'), given_name: 'Old' });
      const res = await patch(user.id, { given_name: 'New', family_name: 'Name', email: 'new@example.com' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(userShape({ id: user.id, username: user.username, given_name: 'New', family_name: 'Name', email: 'new@example.com' }));
    });

    it('keeps what the body does not mention', async () => {
      const user = await createUser(t, admin, { username: unique('kept'), given_name: 'Kept', email: 'kept@example.com' });
      const res = await patch(user.id, { family_name: 'Only' });
      expect(res.body).toEqual(userShape({ id: user.id, username: user.username, given_name: 'Kept', family_name: 'Only', email: 'kept@example.com' }));
    });

    it('persists the change', async () => {
      const user = await createUser(t, admin, { username: unique('persisted') });
      await patch(user.id, { email: 'persisted@example.com' });
      const res = await request(t.url).get(`/api/v1/users/${user.id}`).set('Cookie', admin);
      expect(res.body.email).toBe('persisted@example.com');
    });

    it('renames a user', async () => {
      const user = await createUser(t, admin, { username: unique('before') });
      const username = unique('after');
      const res = await patch(user.id, { username });
      expect(res.body.username).toBe(username);
    });

    it('changes the password without showing it, and the new one signs in', async () => {
      const user = await createUser(t, admin, { username: unique('new-pw') });
      const res = await patch(user.id, { password: 'brand-new-password' });
      expect(res.status).toBe(200);
      expectNoPasswordMaterial(res, 'brand-new-password');
      expect((await postLogin(t, user.username, 'brand-new-password')).status).toBe(303);
    });

    it('makes the old password stop working', async () => {
      const user = await createUser(t, admin, { username: unique('old-pw') });
      await patch(user.id, { password: 'replacement-password' });
      expect((await postLogin(t, user.username, user.password)).status).toBe(401);
    });

    it('promotes a user to admin', async () => {
      const user = await createUser(t, admin, { username: unique('promoted') });
      expect((await patch(user.id, { role: 'admin' })).body.role).toBe('admin');
    });

    it('demotes an admin while another admin remains', async () => {
      const other = await createUser(t, admin, { username: unique('demoted'), role: 'admin' });
      const res = await patch(other.id, { role: 'user' });
      expect(res.status).toBe(200);
      expect(res.body.role).toBe('user');
    });

    it('refuses a username taken in another case: 409 conflict naming the field', async () => {
      const taken = await createUser(t, admin, { username: unique('taken') });
      const user = await createUser(t, admin, { username: unique('renamer') });
      expectProblem(await patch(user.id, { username: taken.username.toUpperCase() }), 409, 'conflict', [field('username', 'not_unique')]);
    });

    it('leaves the user unchanged after a conflict', async () => {
      const taken = await createUser(t, admin, { username: unique('taken2') });
      const user = await createUser(t, admin, { username: unique('unchanged') });
      await patch(user.id, { username: taken.username, given_name: 'Should Not Stick' });
      const res = await request(t.url).get(`/api/v1/users/${user.id}`).set('Cookie', admin);
      expect(res.body).toEqual(userShape({ id: user.id, username: user.username }));
    });

    it.each([
      ['a too-short password', { password: 'short' }, 'password'],
      ['a password over 72 bytes', { password: 'x'.repeat(73) }, 'password'],
      ['a malformed email', { email: 'nope' }, 'email'],
      ['an unknown role', { role: 'superuser' }, 'role'],
      ['a username of the wrong type', { username: 12 }, 'username'],
      ['an empty given_name', { given_name: '' }, 'given_name'],
    ])('refuses %s with 400 validation_error', async (_what, body, name) => {
      const user = await createUser(t, admin, { username: unique('invalid-patch') });
      expectProblem(await patch(user.id, body), 400, 'validation_error', [field(name)]);
    });

    it('answers 404 not_found for an unknown id', async () => {
      expectProblem(await patch(randomUUID(), { given_name: 'Ghost' }), 404, 'not_found');
    });

    it('answers 404 not_found for an id that is not a uuid', async () => {
      expectProblem(await patch('12345', { given_name: 'Ghost' }), 404, 'not_found');
    });
  });

  describe('delete', () => {
    it('answers 204 with an empty body', async () => {
      const user = await createUser(t, admin, { username: unique('deleted') });
      const res = await request(t.url).delete(`/api/v1/users/${user.id}`).set('Cookie', admin);
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
    });

    it('makes the user unknown afterwards', async () => {
      const user = await createUser(t, admin, { username: unique('gone') });
      await request(t.url).delete(`/api/v1/users/${user.id}`).set('Cookie', admin);
      expectProblem(await request(t.url).get(`/api/v1/users/${user.id}`).set('Cookie', admin), 404, 'not_found');
    });

    it('ends the deleted user\'s browser sessions', async () => {
      const user = await createUser(t, admin, { username: unique('signed-in'), role: 'admin' });
      const cookie = await signIn(t, user.username, user.password);
      await request(t.url).delete(`/api/v1/users/${user.id}`).set('Cookie', admin);
      const res = await request(t.url).get('/api/v1/users').set('Cookie', cookie);
      expectProblem(res, 401, 'unauthorised');
    });

    it('frees the username', async () => {
      const user = await createUser(t, admin, { username: unique('reused') });
      await request(t.url).delete(`/api/v1/users/${user.id}`).set('Cookie', admin);
      expect((await post({ username: user.username, password: 'password-1234' })).status).toBe(201);
    });

    it('deletes an admin while another admin remains', async () => {
      const other = await createUser(t, admin, { username: unique('ex-admin'), role: 'admin' });
      expect((await request(t.url).delete(`/api/v1/users/${other.id}`).set('Cookie', admin)).status).toBe(204);
    });

    it('answers 404 not_found for an unknown id', async () => {
      expectProblem(await request(t.url).delete(`/api/v1/users/${randomUUID()}`).set('Cookie', admin), 404, 'not_found');
    });

    it('answers 404 not_found for an id that is not a uuid', async () => {
      expectProblem(await request(t.url).delete('/api/v1/users/admin').set('Cookie', admin), 404, 'not_found');
    });
  });
});

describe('admin API: the last admin', () => {
  let t: TestApp;
  let admin: string;
  let adminId: string;
  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
    const list = await request(t.url).get('/api/v1/users').set('Cookie', admin);
    adminId = (list.body.items as { id: string; username: string }[]).find((u) => u.username === 'admin')!.id;
  });
  afterAll(() => t.close());

  it('cannot be demoted: 409 conflict', async () => {
    const res = await request(t.url).patch(`/api/v1/users/${adminId}`).set('Cookie', admin).send({ role: 'user' });
    expectProblem(res, 409, 'conflict');
  });

  it('stays an admin after the refused demotion', async () => {
    await request(t.url).patch(`/api/v1/users/${adminId}`).set('Cookie', admin).send({ role: 'user', given_name: 'Not Applied' });
    const res = await request(t.url).get(`/api/v1/users/${adminId}`).set('Cookie', admin);
    expect(res.body).toEqual(userShape({ id: adminId, username: 'admin', role: 'admin', email: res.body.email }));
  });

  it('cannot be deleted: 409 conflict', async () => {
    expectProblem(await request(t.url).delete(`/api/v1/users/${adminId}`).set('Cookie', admin), 409, 'conflict');
  });

  it('still exists and signs in after the refused deletion', async () => {
    await request(t.url).delete(`/api/v1/users/${adminId}`).set('Cookie', admin);
    expect((await request(t.url).get(`/api/v1/users/${adminId}`).set('Cookie', admin)).status).toBe(200);
    expect((await postLogin(t, 'admin', TEST_ADMIN_PASSWORD)).status).toBe(303);
  });

  it('can still be updated in other ways', async () => {
    const res = await request(t.url).patch(`/api/v1/users/${adminId}`).set('Cookie', admin).send({ role: 'admin', email: 'root@example.com' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ role: 'admin', email: 'root@example.com' });
  });

  it('is not rescued by an admin service account, which is no user', async () => {
    await createServiceAccount(t, admin, unique('admin-robot'), 'admin');
    expectProblem(await request(t.url).delete(`/api/v1/users/${adminId}`).set('Cookie', admin), 409, 'conflict');
  });
});

describe('admin API: orgs', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  const post = (body: object) => request(t.url).post('/api/v1/orgs').set('Cookie', admin).send(body);
  const orgShape = (o: Record<string, unknown> = {}) => ({
    id: expect.stringMatching(UUID),
    name: expect.any(String),
    display_name: null,
    created_at: expect.stringMatching(ISO_DATE),
    ...o,
  });

  it('creates an org: 201 with exactly {id, name, display_name, created_at}', async () => {
    const name = unique('acme');
    const res = await post({ name, display_name: 'Acme Corporation' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual(orgShape({ name, display_name: 'Acme Corporation' }));
  });

  it('defaults display_name to null', async () => {
    const name = unique('plain');
    expect((await post({ name })).body).toEqual(orgShape({ name }));
  });

  it('refuses a taken name, case-insensitively: 409 conflict naming the field', async () => {
    const name = unique('dup');
    await createOrg(t, admin, name);
    expectProblem(await post({ name: name.toUpperCase() }), 409, 'conflict', [field('name', 'not_unique')]);
  });

  it('refuses the default org name in another case', async () => {
    expectProblem(await post({ name: 'Default' }), 409, 'conflict', [field('name', 'not_unique')]);
  });

  it.each([
    ['a missing name', {}, 'name'],
    ['a name of the wrong type', { name: 7 }, 'name'],
    ['a name outside the name rule', { name: '-leading-dash' }, 'name'],
    ['a name over 64 characters', { name: 'a'.repeat(65) }, 'name'],
    ['an empty display_name', { name: 'fine-name', display_name: '' }, 'display_name'],
    ['a display_name of the wrong type', { name: 'fine-name', display_name: ['x'] }, 'display_name'],
  ])('refuses %s with 400 validation_error', async (_what, body, name) => {
    expectProblem(await post(body), 400, 'validation_error', [field(name)]);
  });

  it('lists orgs as a page, the default org included', async () => {
    const res = await request(t.url).get('/api/v1/orgs').set('Cookie', admin);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: expect.any(Array), total: expect.any(Number), page: 1, per_page: 50 });
    expect(res.body.items).toContainEqual(orgShape({ name: 'default' }));
  });

  it('pages with ?page&per_page', async () => {
    await createOrg(t, admin);
    await createOrg(t, admin);
    const all = await request(t.url).get('/api/v1/orgs').query({ per_page: 200 }).set('Cookie', admin);
    const res = await request(t.url).get('/api/v1/orgs').query({ page: 2, per_page: 1 }).set('Cookie', admin);
    expect(res.body).toEqual({ items: [all.body.items[1]], total: all.body.total, page: 2, per_page: 1 });
  });

  it('refuses per_page over 200 with 400 validation_error', async () => {
    const res = await request(t.url).get('/api/v1/orgs').query({ per_page: 500 }).set('Cookie', admin);
    expectProblem(res, 400, 'validation_error', [{ name: 'per_page', error: 'invalid_value', title: expect.stringMatching(/\S/), pointer: expect.any(String) }]);
  });

  it('gets an org', async () => {
    const org = await createOrg(t, admin);
    const res = await request(t.url).get(`/api/v1/orgs/${org.id}`).set('Cookie', admin);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(orgShape({ id: org.id, name: org.name }));
  });

  it('answers 404 not_found for an unknown org id', async () => {
    expectProblem(await request(t.url).get(`/api/v1/orgs/${randomUUID()}`).set('Cookie', admin), 404, 'not_found');
  });

  it('answers 404 not_found for an org id that is not a uuid', async () => {
    expectProblem(await request(t.url).get('/api/v1/orgs/default').set('Cookie', admin), 404, 'not_found');
  });

  it('updates name and display_name', async () => {
    const org = await createOrg(t, admin);
    const name = unique('renamed');
    const res = await request(t.url).patch(`/api/v1/orgs/${org.id}`).set('Cookie', admin).send({ name, display_name: 'Renamed Inc.' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(orgShape({ id: org.id, name, display_name: 'Renamed Inc.' }));
  });

  it('keeps the name when only display_name changes', async () => {
    const org = await createOrg(t, admin);
    const res = await request(t.url).patch(`/api/v1/orgs/${org.id}`).set('Cookie', admin).send({ display_name: 'Only This' });
    expect(res.body).toEqual(orgShape({ id: org.id, name: org.name, display_name: 'Only This' }));
  });

  it('refuses renaming to a taken name: 409 conflict naming the field', async () => {
    const taken = await createOrg(t, admin);
    const org = await createOrg(t, admin);
    const res = await request(t.url).patch(`/api/v1/orgs/${org.id}`).set('Cookie', admin).send({ name: taken.name.toUpperCase() });
    expectProblem(res, 409, 'conflict', [field('name', 'not_unique')]);
  });

  it('refuses an invalid update with 400 validation_error', async () => {
    const org = await createOrg(t, admin);
    const res = await request(t.url).patch(`/api/v1/orgs/${org.id}`).set('Cookie', admin).send({ name: 'no spaces allowed' });
    expectProblem(res, 400, 'validation_error', [field('name')]);
  });

  it('answers 404 not_found when updating an unknown org', async () => {
    expectProblem(await request(t.url).patch(`/api/v1/orgs/${randomUUID()}`).set('Cookie', admin).send({ display_name: 'x' }), 404, 'not_found');
  });

  it('deletes an empty org: 204, then 404', async () => {
    const org = await createOrg(t, admin);
    const res = await request(t.url).delete(`/api/v1/orgs/${org.id}`).set('Cookie', admin);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expectProblem(await request(t.url).get(`/api/v1/orgs/${org.id}`).set('Cookie', admin), 404, 'not_found');
  });

  it('refuses to delete an org that still has users: 409 conflict', async () => {
    const org = await createOrg(t, admin);
    await request(t.url).post('/api/v1/users').set('Cookie', admin).send({ username: unique('resident'), password: 'password-1234', org_id: org.id });
    expectProblem(await request(t.url).delete(`/api/v1/orgs/${org.id}`).set('Cookie', admin), 409, 'conflict');
  });

  it('keeps the org after the refused deletion', async () => {
    const org = await createOrg(t, admin);
    await request(t.url).post('/api/v1/users').set('Cookie', admin).send({ username: unique('stayer'), password: 'password-1234', org_id: org.id });
    await request(t.url).delete(`/api/v1/orgs/${org.id}`).set('Cookie', admin);
    expect((await request(t.url).get(`/api/v1/orgs/${org.id}`).set('Cookie', admin)).status).toBe(200);
  });

  it('refuses to delete the default org, which holds the bootstrap admin', async () => {
    const id = await defaultOrgId(t, admin);
    expectProblem(await request(t.url).delete(`/api/v1/orgs/${id}`).set('Cookie', admin), 409, 'conflict');
  });

  it('refuses to delete an org that still has service accounts: 409 conflict', async () => {
    const org = await createOrg(t, admin);
    await request(t.url).post('/api/v1/service-accounts').set('Cookie', admin).send({ name: unique('robot'), org_id: org.id });
    expectProblem(await request(t.url).delete(`/api/v1/orgs/${org.id}`).set('Cookie', admin), 409, 'conflict');
  });

  it('answers 404 not_found when deleting an unknown org', async () => {
    expectProblem(await request(t.url).delete(`/api/v1/orgs/${randomUUID()}`).set('Cookie', admin), 404, 'not_found');
  });
});

describe('admin API: service accounts', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  const post = (body: object) => request(t.url).post('/api/v1/service-accounts').set('Cookie', admin).send(body);
  const get = (id: string) => request(t.url).get(`/api/v1/service-accounts/${id}`).set('Cookie', admin);
  const accountShape = (a: Record<string, unknown> = {}) => ({
    id: expect.stringMatching(UUID),
    name: expect.any(String),
    role: 'user',
    org_id: expect.stringMatching(UUID),
    created_at: expect.stringMatching(ISO_DATE),
    last_used_at: null,
    revoked_at: null,
    ...a,
  });

  describe('create', () => {
    it('answers 201 with the account and its token, once', async () => {
      const name = unique('billing-sync');
      const res = await post({ name, role: 'admin' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ ...accountShape({ name, role: 'admin', org_id: await defaultOrgId(t, admin) }), token: expect.stringMatching(SERVICE_ACCOUNT_TOKEN) });
    });

    it('defaults the role to user', async () => {
      expect((await post({ name: unique('plain-robot') })).body.role).toBe('user');
    });

    it('places the account in the org named by org_id', async () => {
      const org = await createOrg(t, admin);
      expect((await post({ name: unique('org-robot'), org_id: org.id })).body.org_id).toBe(org.id);
    });

    it('places the account in the default org when org_id is null (the example of the API document)', async () => {
      expect((await post({ name: unique('defaulted-robot'), org_id: null })).body.org_id).toBe(await defaultOrgId(t, admin));
    });

    it('gives every account a different token', async () => {
      const a = await createServiceAccount(t, admin, unique('twin-a'));
      const b = await createServiceAccount(t, admin, unique('twin-b'));
      expect(a.token).not.toBe(b.token);
    });

    it('refuses a taken name, case-insensitively: 409 conflict naming the field', async () => {
      const name = unique('robot');
      await createServiceAccount(t, admin, name);
      expectProblem(await post({ name: name.toUpperCase() }), 409, 'conflict', [field('name', 'not_unique')]);
    });

    it.each([
      ['a missing name', {}, 'name'],
      ['a name of the wrong type', { name: 3 }, 'name'],
      ['a name outside the name rule', { name: 'white space' }, 'name'],
      ['an unknown role', { name: 'role-robot', role: 'owner' }, 'role'],
      ['an org_id that is not a uuid', { name: 'org-robot-x', org_id: 'default' }, 'org_id'],
    ])('refuses %s with 400 validation_error', async (_what, body, name) => {
      expectProblem(await post(body), 400, 'validation_error', [field(name)]);
    });

    it('refuses an org_id naming no org: reference_not_found', async () => {
      expectProblem(await post({ name: unique('lost-robot'), org_id: randomUUID() }), 400, 'validation_error', [field('org_id', 'reference_not_found')]);
    });
  });

  describe('reading', () => {
    it('gets an account without its token', async () => {
      const { id, token } = await createServiceAccount(t, admin, unique('quiet'));
      const res = await get(id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(accountShape({ id }));
      expect(res.text).not.toContain(token);
    });

    it('lists accounts as a page, without tokens', async () => {
      const { id, token } = await createServiceAccount(t, admin, unique('listed-robot'));
      const res = await request(t.url).get('/api/v1/service-accounts').query({ per_page: 200 }).set('Cookie', admin);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: expect.any(Array), total: res.body.items.length, page: 1, per_page: 200 });
      for (const item of res.body.items) expect(Object.keys(item).sort()).toEqual(['created_at', 'id', 'last_used_at', 'name', 'org_id', 'revoked_at', 'role']);
      expect(res.body.items).toContainEqual(accountShape({ id, name: expect.stringContaining('listed-robot') }));
      expect(res.text).not.toContain(token);
      expect(res.text).not.toContain('pcsa_');
    });

    it('pages with ?page&per_page', async () => {
      await createServiceAccount(t, admin, unique('page-robot'));
      await createServiceAccount(t, admin, unique('page-robot'));
      const all = await request(t.url).get('/api/v1/service-accounts').query({ per_page: 200 }).set('Cookie', admin);
      const res = await request(t.url).get('/api/v1/service-accounts').query({ page: 2, per_page: 1 }).set('Cookie', admin);
      expect(res.body).toEqual({ items: [all.body.items[1]], total: all.body.total, page: 2, per_page: 1 });
    });

    it('refuses page=0 with 400 validation_error', async () => {
      const res = await request(t.url).get('/api/v1/service-accounts').query({ page: 0 }).set('Cookie', admin);
      expectProblem(res, 400, 'validation_error', [{ name: 'page', error: 'invalid_value', title: expect.stringMatching(/\S/), pointer: expect.any(String) }]);
    });

    it('answers 404 not_found for an unknown id', async () => {
      expectProblem(await get(randomUUID()), 404, 'not_found');
    });

    it('answers 404 not_found for an id that is not a uuid', async () => {
      expectProblem(await get('robot'), 404, 'not_found');
    });
  });

  describe('update', () => {
    const patch = (id: string, body: object) => request(t.url).patch(`/api/v1/service-accounts/${id}`).set('Cookie', admin).send(body);

    it('renames and changes the role, without showing the token', async () => {
      const { id, token } = await createServiceAccount(t, admin, unique('changing'));
      const name = unique('changed');
      const res = await patch(id, { name, role: 'admin' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(accountShape({ id, name, role: 'admin' }));
      expect(res.text).not.toContain(token);
    });

    it('gives the token the new role at once', async () => {
      const { id, token } = await createServiceAccount(t, admin, unique('upgraded'), 'user');
      await patch(id, { role: 'admin' });
      expect((await request(t.url).get('/api/v1/orgs').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    });

    it('refuses a taken name: 409 conflict naming the field', async () => {
      const taken = await createServiceAccount(t, admin, unique('taken-robot'));
      const { id } = await createServiceAccount(t, admin, unique('other-robot'));
      const name = (await get(taken.id)).body.name as string;
      expectProblem(await patch(id, { name: name.toUpperCase() }), 409, 'conflict', [field('name', 'not_unique')]);
    });

    it('refuses an unknown role with 400 validation_error', async () => {
      const { id } = await createServiceAccount(t, admin, unique('role-robot'));
      expectProblem(await patch(id, { role: 'god' }), 400, 'validation_error', [field('role')]);
    });

    it('answers 404 not_found for an unknown id', async () => {
      expectProblem(await patch(randomUUID(), { role: 'admin' }), 404, 'not_found');
    });
  });

  describe('the token', () => {
    it('authenticates as a bearer on an admin route when the account is an admin', async () => {
      const { token } = await createServiceAccount(t, admin, unique('admin-robot'), 'admin');
      const res = await request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: expect.any(Array), total: expect.any(Number), page: 1, per_page: 50 });
    });

    it('lets an admin account create through the API', async () => {
      const { token } = await createServiceAccount(t, admin, unique('creator-robot'), 'admin');
      const res = await request(t.url).post('/api/v1/orgs').set('Authorization', `Bearer ${token}`).send({ name: unique('robot-made') });
      expect(res.status).toBe(201);
    });

    it('gets 403 forbidden on an admin route when the account has the user role', async () => {
      const { token } = await createServiceAccount(t, admin, unique('user-robot'), 'user');
      expectProblem(await request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${token}`), 403, 'forbidden');
    });

    it('sets last_used_at when used', async () => {
      const { id, token } = await createServiceAccount(t, admin, unique('used-robot'), 'admin');
      expect((await get(id)).body.last_used_at).toBeNull();
      const before = Date.now();
      await request(t.url).get('/api/v1/orgs').set('Authorization', `Bearer ${token}`);
      const lastUsed = (await get(id)).body.last_used_at as string;
      expect(lastUsed).toMatch(ISO_DATE);
      expect(Math.abs(Date.parse(lastUsed) - before)).toBeLessThan(10_000);
    });

    it('sets last_used_at even when the role is refused', async () => {
      const { id, token } = await createServiceAccount(t, admin, unique('refused-robot'), 'user');
      await request(t.url).get('/api/v1/orgs').set('Authorization', `Bearer ${token}`);
      expect((await get(id)).body.last_used_at).toMatch(ISO_DATE);
    });

    it('is accepted with the scheme in lower case (RFC 7235: case-insensitive)', async () => {
      const { token } = await createServiceAccount(t, admin, unique('lower-robot'), 'admin');
      expect((await request(t.url).get('/api/v1/orgs').set('Authorization', `bearer ${token}`)).status).toBe(200);
    });

    it('is not accepted from the query string: 401', async () => {
      const { token } = await createServiceAccount(t, admin, unique('query-robot'), 'admin');
      const res = await request(t.url).get('/api/v1/users').query({ access_token: token });
      expectProblem(res, 401, 'unauthorised');
      expectBearerChallenge(res);
    });

    it('is not accepted from the body: 401', async () => {
      const { token } = await createServiceAccount(t, admin, unique('body-robot'), 'admin');
      const res = await request(t.url).post('/api/v1/orgs').send({ name: unique('smuggled'), access_token: token });
      expectProblem(res, 401, 'unauthorised');
      expectBearerChallenge(res);
    });

    it('is not accepted in a Basic Authorization header: 401', async () => {
      const { token } = await createServiceAccount(t, admin, unique('basic-robot'), 'admin');
      const res = await request(t.url).get('/api/v1/users').set('Authorization', `Basic ${Buffer.from(`x:${token}`).toString('base64')}`);
      expectProblem(res, 401, 'unauthorised');
      expectBearerChallenge(res);
    });
  });

  describe('revoke', () => {
    const revoke = (id: string) => request(t.url).post(`/api/v1/service-accounts/${id}/revoke`).set('Cookie', admin);

    it('answers 200 with the account marked revoked', async () => {
      const { id, token } = await createServiceAccount(t, admin, unique('revoked'));
      const res = await revoke(id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(accountShape({ id, revoked_at: expect.stringMatching(ISO_DATE) }));
      expect(res.text).not.toContain(token);
    });

    it('makes the token answer 401 problem+json with a Bearer challenge', async () => {
      const { id, token } = await createServiceAccount(t, admin, unique('stopped'), 'admin');
      expect((await request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      await revoke(id);
      const res = await request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${token}`);
      expectProblem(res, 401, 'unauthorised');
      expectBearerChallenge(res);
    });

    it('keeps the account listed', async () => {
      const { id } = await createServiceAccount(t, admin, unique('still-listed'));
      await revoke(id);
      expect((await get(id)).body.revoked_at).toMatch(ISO_DATE);
    });

    it('keeps the first revocation time when revoked again', async () => {
      const { id } = await createServiceAccount(t, admin, unique('twice'));
      const first = (await revoke(id)).body.revoked_at as string;
      const second = await revoke(id);
      expect(second.status).toBe(200);
      expect(second.body.revoked_at).toBe(first);
    });

    it('answers 404 not_found for an unknown id', async () => {
      expectProblem(await revoke(randomUUID()), 404, 'not_found');
    });

    it('answers 404 not_found for an id that is not a uuid', async () => {
      expectProblem(await revoke('nope'), 404, 'not_found');
    });
  });

  describe('delete', () => {
    const remove = (id: string) => request(t.url).delete(`/api/v1/service-accounts/${id}`).set('Cookie', admin);

    it('answers 204 with an empty body, then 404', async () => {
      const { id } = await createServiceAccount(t, admin, unique('deleted-robot'));
      const res = await remove(id);
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expectProblem(await get(id), 404, 'not_found');
    });

    it('makes the token answer 401', async () => {
      const { id, token } = await createServiceAccount(t, admin, unique('deleted-admin-robot'), 'admin');
      await remove(id);
      const res = await request(t.url).get('/api/v1/users').set('Authorization', `Bearer ${token}`);
      expectProblem(res, 401, 'unauthorised');
      expectBearerChallenge(res);
    });

    it('answers 404 not_found for an unknown id', async () => {
      expectProblem(await remove(randomUUID()), 404, 'not_found');
    });
  });
});

describe('admin API: who may call it', () => {
  let t: TestApp;
  let admin: string;
  let userCookie: string;
  let userToken: string;
  let adminToken: string;
  let revokedToken: string;
  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
    const user = await createUser(t, admin, { username: 'plain-user' });
    userCookie = await signIn(t, user.username, user.password);
    userToken = (await createServiceAccount(t, admin, 'user-robot', 'user')).token;
    adminToken = (await createServiceAccount(t, admin, 'admin-robot', 'admin')).token;
    const revoked = await createServiceAccount(t, admin, 'revoked-robot', 'admin');
    await request(t.url).post(`/api/v1/service-accounts/${revoked.id}/revoke`).set('Cookie', admin);
    revokedToken = revoked.token;
  });
  afterAll(() => t.close());

  const routeName = (r: (typeof ADMIN_ROUTES)[number]) => `${r[0].toUpperCase()} ${r[1]}`;
  const routes = ADMIN_ROUTES.map((r) => [routeName(r), r] as const);

  it.each(routes)('%s: no credentials → 401 unauthorised with a Bearer challenge', async (_name, route) => {
    const res = await callRoute(t, route);
    expectProblem(res, 401, 'unauthorised');
    expectBearerChallenge(res);
  });

  it.each(routes)('%s: a non-admin user\'s session → 403 forbidden', async (_name, route) => {
    expectProblem(await callRoute(t, route).set('Cookie', userCookie), 403, 'forbidden');
  });

  it.each(routes)('%s: a user-role service account token → 403 forbidden', async (_name, route) => {
    expectProblem(await callRoute(t, route).set('Authorization', `Bearer ${userToken}`), 403, 'forbidden');
  });

  it.each(routes)('%s: a revoked token → 401 with a Bearer challenge', async (_name, route) => {
    const res = await callRoute(t, route).set('Authorization', `Bearer ${revokedToken}`);
    expectProblem(res, 401, 'unauthorised');
    expectBearerChallenge(res);
  });

  it.each(routes)('%s: an admin token in the query string only → 401', async (_name, route) => {
    const res = await callRoute(t, route).query({ access_token: adminToken });
    expectProblem(res, 401, 'unauthorised');
    expectBearerChallenge(res);
  });

  it.each(routes)('%s: a Basic Authorization header → 401', async (_name, route) => {
    const res = await callRoute(t, route).set('Authorization', `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}`);
    expectProblem(res, 401, 'unauthorised');
    expectBearerChallenge(res);
  });

  it('answers an unknown token with 401 invalid_token', async () => {
    const res = await request(t.url).get('/api/v1/users').set('Authorization', `Bearer pcsa_${randomBytes(32).toString('base64url')}`);
    expectProblem(res, 401, 'unauthorised');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
  });

  it('answers a token that is not a service-account token with 401', async () => {
    const res = await request(t.url).get('/api/v1/users').set('Authorization', 'Bearer not-a-real-token');
    expectProblem(res, 401, 'unauthorised');
    expectBearerChallenge(res);
  });

  it('answers a bad token with 401 even beside a valid admin session (the header wins)', async () => {
    const res = await request(t.url).get('/api/v1/users').set('Cookie', admin).set('Authorization', 'Bearer pcsa_bogus');
    expectProblem(res, 401, 'unauthorised');
  });

  it('answers an unknown session cookie with 401 and a Bearer challenge', async () => {
    const res = await request(t.url).get('/api/v1/users').set('Cookie', `session_id=${randomBytes(32).toString('base64url')}`);
    expectProblem(res, 401, 'unauthorised');
    expectBearerChallenge(res);
  });

  it('changes nothing when refused: the non-admin cannot promote themselves', async () => {
    const list = await request(t.url).get('/api/v1/users').set('Cookie', admin);
    const me = (list.body.items as { id: string; username: string }[]).find((u) => u.username === 'plain-user')!;
    await request(t.url).patch(`/api/v1/users/${me.id}`).set('Cookie', userCookie).send({ role: 'admin' });
    expect((await request(t.url).get(`/api/v1/users/${me.id}`).set('Cookie', admin)).body.role).toBe('user');
  });

  it('lets the admin session in', async () => {
    expect((await request(t.url).get('/api/v1/users').set('Cookie', admin)).status).toBe(200);
  });

  it('lets an admin service-account token in', async () => {
    expect((await request(t.url).get('/api/v1/service-accounts').set('Authorization', `Bearer ${adminToken}`)).status).toBe(200);
  });

  it('follows a role change at once: a promoted user\'s session gets in', async () => {
    const user = await createUser(t, admin, { username: 'soon-admin' });
    const cookie = await signIn(t, user.username, user.password);
    expect((await request(t.url).get('/api/v1/orgs').set('Cookie', cookie)).status).toBe(403);
    await request(t.url).patch(`/api/v1/users/${user.id}`).set('Cookie', admin).send({ role: 'admin' });
    expect((await request(t.url).get('/api/v1/orgs').set('Cookie', cookie)).status).toBe(200);
  });
});
