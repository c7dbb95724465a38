import request from 'supertest';
import { TEST_ADMIN_PASSWORD, TestApp } from './app';

/** The `name=value` pairs of a response's Set-Cookie headers. */
export function cookiesOf(res: request.Response): Record<string, { value: string; attributes: string }> {
  const header = res.headers['set-cookie'] as unknown as string[] | undefined;
  return Object.fromEntries((header ?? []).map((c) => {
    const [pair, ...attributes] = c.split(';');
    const eq = pair.indexOf('=');
    return [pair.slice(0, eq).trim(), { value: pair.slice(eq + 1), attributes: attributes.join(';').trim() }];
  }));
}

/** GET /login: the form's CSRF token and the cookie that must come back with it. */
export async function loginForm(t: TestApp, returnTo?: string): Promise<{ csrfToken: string; cookie: string; html: string }> {
  const res = await request(t.url).get('/login').query(returnTo === undefined ? {} : { return_to: returnTo });
  const csrfToken = /name="csrf_token" value="([^"]+)"/.exec(res.text)?.[1];
  if (!csrfToken) throw new Error(`no CSRF token on the login page (${res.status})`);
  return { csrfToken, cookie: `login_csrf=${cookiesOf(res).login_csrf.value}`, html: res.text };
}

/** Signs in through the real form; answers the POST response. */
export async function postLogin(t: TestApp, username: string, password: string, returnTo = '/'): Promise<request.Response> {
  const form = await loginForm(t);
  return request(t.url).post('/login').set('Cookie', form.cookie).type('form').send({ username, password, csrf_token: form.csrfToken, return_to: returnTo });
}

/** Signs in and answers the `session_id=…` cookie to send back. */
export async function signIn(t: TestApp, username = 'admin', password = TEST_ADMIN_PASSWORD): Promise<string> {
  const res = await postLogin(t, username, password);
  const session = cookiesOf(res).session_id;
  if (res.status !== 303 || !session) throw new Error(`sign-in of ${username} failed: ${res.status}`);
  return `session_id=${session.value}`;
}

/** Creates a user through the admin API (as the bootstrap admin); answers the created user. */
export async function createUser(
  t: TestApp,
  adminCookie: string,
  user: { username: string; password?: string; role?: 'admin' | 'user'; given_name?: string; family_name?: string; email?: string },
): Promise<{ id: string; username: string; password: string }> {
  const password = user.password ?? `pw-${user.username}-12345`;
  const res = await request(t.url).post('/api/v1/users').set('Cookie', adminCookie).send({ ...user, password });
  if (res.status !== 201) throw new Error(`creating ${user.username} failed: ${res.status} ${res.text}`);
  return { id: res.body.id, username: res.body.username, password };
}

/** Creates a service account through the admin API; answers its id and its once-shown token. */
export async function createServiceAccount(t: TestApp, adminCookie: string, name: string, role: 'admin' | 'user' = 'user'): Promise<{ id: string; token: string }> {
  const res = await request(t.url).post('/api/v1/service-accounts').set('Cookie', adminCookie).send({ name, role });
  if (res.status !== 201) throw new Error(`creating service account ${name} failed: ${res.status} ${res.text}`);
  return { id: res.body.id, token: res.body.token };
}
