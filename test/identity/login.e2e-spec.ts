import request from 'supertest';
import { CryptoService } from '../../src/common/crypto/crypto.service';
import { sql } from '../helpers/database';
import { bootApp, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { cookiesOf, createServiceAccount, createUser, loginForm, postLogin, signIn } from '../helpers/identity';


describe('browser sign-in', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await bootApp({ env: { SESSION_TTL: '2h' } });
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  describe('GET /login', () => {
    it('renders a form with Username, Password and Sign in, and carries return_to', async () => {
      const { html } = await loginForm(t, '/account/apps');
      expect(html).toMatch(/<label for="username">Username<\/label>/);
      expect(html).toMatch(/<label for="password">Password<\/label>/);
      expect(html).toMatch(/<button type="submit"[^>]*>Sign in<\/button>/);
      expect(html).toContain('name="return_to" value="/account/apps"');
    });

    it('is not framable, not cached and sends no referrer', async () => {
      const res = await request(t.url).get('/login');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    });

    it('escapes what it echoes', async () => {
      const { html } = await loginForm(t, '/"><script>alert(1)</script>');
      expect(html).not.toContain('<script>alert(1)</script>');
    });
  });

  describe('POST /login', () => {
    it('signs in, sets the session cookie and redirects 303 to return_to', async () => {
      const res = await postLogin(t, 'admin', TEST_ADMIN_PASSWORD, '/account/apps?x=1');
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/account/apps?x=1');
      const session = cookiesOf(res).session_id;
      expect(session.value).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits, base64url
      expect(session.attributes).toMatch(/HttpOnly/);
      expect(session.attributes).toMatch(/SameSite=Lax/);
      expect(session.attributes).toMatch(/Path=\//);
      expect(session.attributes).toMatch(/Max-Age=7200/);
      expect(session.attributes).not.toMatch(/Secure/); // the issuer is http here
    });

    it('stores only the SHA-256 of the session id', async () => {
      const res = await postLogin(t, 'admin', TEST_ADMIN_PASSWORD);
      const raw = cookiesOf(res).session_id.value;
      const rows = await sql<{ id_hash: string }>(t, 'SELECT id_hash FROM browser_sessions');
      expect(rows.map((r) => r.id_hash)).toContain(require('node:crypto').createHash('sha256').update(raw).digest('hex'));
      expect(JSON.stringify(rows)).not.toContain(raw);
    });

    it('matches the username case-insensitively', async () => {
      expect((await postLogin(t, 'ADMIN', TEST_ADMIN_PASSWORD)).status).toBe(303);
    });

    it('gives the same generic failure for a wrong password and an unknown user', async () => {
      const wrong = await postLogin(t, 'admin', 'not-the-password');
      const unknown = await postLogin(t, 'nobody-here', 'not-the-password');
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      const message = (html: string) => /role="alert"[^>]*>([^<]*)</.exec(html)?.[1];
      expect(message(wrong.text)).toBe('The username or password is incorrect.');
      expect(message(unknown.text)).toBe(message(wrong.text));
      expect(cookiesOf(wrong).session_id).toBeUndefined();
    });

    it('spends one bcrypt comparison on an unknown user too, so timing does not tell users apart', async () => {
      const verify = jest.spyOn(t.app.get(CryptoService), 'verifyPassword');
      try {
        await postLogin(t, 'nobody-at-all', 'whatever-password');
        expect(verify).toHaveBeenCalledTimes(1);
        verify.mockClear();
        await postLogin(t, 'admin', 'whatever-password');
        expect(verify).toHaveBeenCalledTimes(1);
      } finally {
        verify.mockRestore();
      }
    });

    it('refuses a form without the CSRF token', async () => {
      const form = await loginForm(t);
      const res = await request(t.url).post('/login').set('Cookie', form.cookie).type('form')
        .send({ username: 'admin', password: TEST_ADMIN_PASSWORD });
      expect(res.status).toBe(403);
      expect(cookiesOf(res).session_id).toBeUndefined();
    });

    it('refuses a CSRF token that does not match the cookie', async () => {
      const form = await loginForm(t);
      const other = await loginForm(t);
      const res = await request(t.url).post('/login').set('Cookie', form.cookie).type('form')
        .send({ username: 'admin', password: TEST_ADMIN_PASSWORD, csrf_token: other.csrfToken });
      expect(res.status).toBe(403);
      expect(cookiesOf(res).session_id).toBeUndefined();
    });

    it('answers malformed input with a 4xx page, never 500', async () => {
      const form = await loginForm(t);
      const res = await request(t.url).post('/login').set('Cookie', form.cookie).type('form')
        .send(`username=a&username=b&password[x]=1&csrf_token=${form.csrfToken}`);
      expect(res.status).toBe(400);
    });
  });

  describe('return_to', () => {
    it.each([
      '//evil.example',
      'https://evil.example',
      'http://evil.example/path',
      '/\\evil.example',
      '/%5Cevil.example',
      '/%2F%2Fevil.example',
      '%2F%2Fevil.example',
      '/\t/evil.example',
      'javascript:alert(1)',
      ' //evil.example',
    ])('lands %j on this origin', async (returnTo) => {
      const res = await postLogin(t, 'admin', TEST_ADMIN_PASSWORD, returnTo);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/');
    });
  });

  describe('the lockout', () => {
    it('answers 429 after 10 failures for one IP and username, even with the right password', async () => {
      const victim = await createUser(t, admin, { username: 'locked-out-user' });
      for (let i = 0; i < 10; i++) expect((await postLogin(t, victim.username, `wrong-${i}`)).status).toBe(401);
      const blocked = await postLogin(t, victim.username, victim.password);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect(blocked.text).toContain('Too many failed attempts');
      expect(cookiesOf(blocked).session_id).toBeUndefined();
    });

    it('does not lock other usernames', async () => {
      const other = await createUser(t, admin, { username: 'not-locked-user' });
      expect((await postLogin(t, other.username, other.password)).status).toBe(303);
    });

    it('holds under concurrency: of 60 parallel wrong passwords at most 10 are evaluated, the rest get 429', async () => {
      const victim = await createUser(t, admin, { username: 'parallel-victim' });
      const statuses = await Promise.all(Array.from({ length: 60 }, (_, i) => postLogin(t, victim.username, `wrong-${i}`).then((r) => r.status)));
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
      expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
      expect((await postLogin(t, victim.username, victim.password)).status).toBe(429);
    });

    it('is reset by a successful sign-in', async () => {
      const user = await createUser(t, admin, { username: 'forgetful-user' });
      for (let i = 0; i < 9; i++) await postLogin(t, user.username, 'wrong');
      expect((await postLogin(t, user.username, user.password)).status).toBe(303);
      for (let i = 0; i < 9; i++) expect((await postLogin(t, user.username, 'wrong')).status).toBe(401);
    });
  });

  describe('sessions', () => {
    it('let the signed-in user reach the API as themselves', async () => {
      const res = await request(t.url).get('/api/v1/users').set('Cookie', admin);
      expect(res.status).toBe(200);
    });

    it('show who is signed in on /', async () => {
      const res = await request(t.url).get('/').set('Cookie', admin);
      expect(res.status).toBe(200);
      expect(res.text).toContain('You are signed in as <strong><bdi>admin</bdi></strong>');
      const anonymous = await request(t.url).get('/');
      expect(anonymous.text).toContain('You are not signed in');
    });

    it('stop working once expired', async () => {
      const cookie = await signIn(t);
      const raw = cookie.split('=')[1];
      const hash = require('node:crypto').createHash('sha256').update(raw).digest('hex');
      await sql(t, `UPDATE browser_sessions SET expires_at = now() - interval '1 second' WHERE id_hash = $1`, [hash]);
      const res = await request(t.url).get('/api/v1/users').set('Cookie', cookie);
      expect(res.status).toBe(401);
    });

    it('end on logout with the session CSRF token, and the cookie is cleared', async () => {
      const cookie = await signIn(t);
      const home = await request(t.url).get('/').set('Cookie', cookie);
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(home.text)![1];
      const res = await request(t.url).post('/logout').set('Cookie', cookie).type('form').send({ csrf_token: csrf });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/login');
      expect(cookiesOf(res).session_id.value).toBe('');
      expect((await request(t.url).get('/api/v1/users').set('Cookie', cookie)).status).toBe(401);
    });

    it('survive a logout attempt without the CSRF token', async () => {
      const cookie = await signIn(t);
      const res = await request(t.url).post('/logout').set('Cookie', cookie).type('form').send({});
      expect(res.status).toBe(303);
      expect((await request(t.url).get('/api/v1/users').set('Cookie', cookie)).status).toBe(200);
    });

    it('refuse an unknown session id', async () => {
      const res = await request(t.url).get('/api/v1/users').set('Cookie', 'session_id=not-a-real-session');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    });
  });
});

describe('the lockout across instances', () => {
  it('holds when the attempts are spread over two instances on one database', async () => {
    const a = await bootApp();
    const b = await bootApp({ databaseUrl: a.databaseUrl });
    try {
      const admin = await signIn(a);
      const victim = await createUser(a, admin, { username: 'spread-victim' });
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await postLogin(i % 2 ? a : b, victim.username, `wrong-${i}`)).status);
      expect(statuses).toEqual(Array(10).fill(401));
      expect((await postLogin(a, victim.username, victim.password)).status).toBe(429);
      expect((await postLogin(b, victim.username, victim.password)).status).toBe(429);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe('cookies on an https issuer', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp({ env: { ISSUER_URL: 'https://auth.example.com' } });
  });
  afterAll(() => t.close());

  it('mark the session cookie Secure', async () => {
    const res = await postLogin(t, 'admin', TEST_ADMIN_PASSWORD);
    expect(cookiesOf(res).session_id.attributes).toMatch(/Secure/);
  });
});

describe('the lockout behind a trusted proxy (TRUST_PROXY)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp({ env: { TRUST_PROXY: 'loopback' } });
  });
  afterAll(() => t.close());

  const attempt = async (ip: string, password: string) => {
    const form = await loginForm(t);
    return request(t.url).post('/login').set('Cookie', form.cookie).set('X-Forwarded-For', ip).type('form')
      .send({ username: 'admin', password, csrf_token: form.csrfToken });
  };

  it('counts failures per client address, as the proxy reports it', async () => {
    for (let i = 0; i < 10; i++) expect((await attempt('203.0.113.7', 'wrong')).status).toBe(401);
    expect((await attempt('203.0.113.7', TEST_ADMIN_PASSWORD)).status).toBe(429);
    expect((await attempt('198.51.100.9', TEST_ADMIN_PASSWORD)).status).toBe(303);
  });
});

describe('the session cookie on /api from another origin', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  it('refuses a state-changing request whose Origin is not ours: 403, nothing created', async () => {
    const res = await request(t.url).post('/api/v1/orgs').set('Cookie', admin).set('Origin', 'https://sibling.example.com').send({ name: 'forged' });
    expect(res.status).toBe(403);
    const list = await request(t.url).get('/api/v1/orgs').set('Cookie', admin);
    expect(list.body.items.map((o: { name: string }) => o.name)).not.toContain('forged');
  });

  it('accepts the same request from our own origin', async () => {
    const res = await request(t.url).post('/api/v1/orgs').set('Cookie', admin).set('Origin', t.url).send({ name: 'genuine' });
    expect(res.status).toBe(201);
  });

  it('lets reads through from anywhere (nothing changes, and CORS keeps the answer from the other site)', async () => {
    const res = await request(t.url).get('/api/v1/orgs').set('Cookie', admin).set('Origin', 'https://sibling.example.com');
    expect(res.status).toBe(200);
  });

  it('does not apply to bearer tokens, which no browser sends on its own', async () => {
    const { token } = await createServiceAccount(t, admin, 'origin-robot', 'admin');
    const res = await request(t.url).post('/api/v1/orgs').set('Authorization', `Bearer ${token}`).set('Origin', 'https://elsewhere.example').send({ name: 'by-robot' });
    expect(res.status).toBe(201);
  });
});
