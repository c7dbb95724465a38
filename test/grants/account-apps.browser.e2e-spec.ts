import { Browser, BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { launchBrowser, screenshotPath } from '../helpers/browser';
import { createApp, RegisteredApp } from '../helpers/clients';
import { createUser, signIn } from '../helpers/identity';
import { RedirectListener } from '../helpers/listener';
import { authorizeAndConsent, authorizeParams, pkce, query } from '../helpers/oauth';

jest.setTimeout(60_000);

/**
 * `/account/apps` (SPEC §1 "end users … review and revoke what they granted"): the browser twin of the
 * authorizations API. A server-rendered page that checks the session itself, lists each connected app with its
 * scopes and a Revoke button, and revokes through a CSRF-protected form POST followed by a 303.
 */
describe('the connected-apps page', () => {
  let t: TestApp;
  let browser: Browser;
  let listener: RedirectListener;
  let admin: string;
  let notes: RegisteredApp;
  let calendar: RegisteredApp;
  let users = 0;

  beforeAll(async () => {
    listener = new RedirectListener();
    const [booted, launched, redirectUri] = await Promise.all([bootApp(), launchBrowser(), listener.start()]);
    t = booted;
    browser = launched;
    admin = await signIn(t);
    notes = await createApp(t, admin, { name: 'notes', display_name: 'Acme Notes', redirect_uris: [redirectUri] });
    calendar = await createApp(t, admin, { name: 'calendar', display_name: 'Acme Calendar', redirect_uris: [redirectUri] });
  });
  afterAll(async () => {
    await browser?.close();
    await listener?.stop();
    await t?.close();
  });

  async function newUser(): Promise<{ username: string; password: string; cookie: string }> {
    const user = await createUser(t, admin, { username: `user${++users}` });
    return { ...user, cookie: await signIn(t, user.username, user.password) };
  }

  /** Signs in on the real /login page of a fresh browser. */
  async function signInInBrowser(user: { username: string; password: string }): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${t.url}/login`);
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => !url.pathname.startsWith('/login'));
    return { context, page };
  }

  /** Drives the authorization request in the browser, clicks Allow, and waits for the client to get its code. */
  async function allowInBrowser(page: Page, app: RegisteredApp, scope: string): Promise<void> {
    const params = authorizeParams(app, pkce().challenge, { scope });
    await page.goto(`${t.url}/oauth2/authorize?${query(params)}`);
    const arrived = listener.next();
    await page.getByRole('button', { name: 'Allow' }).click();
    const url = await arrived;
    if (!url.searchParams.get('code')) throw new Error(`no code at the client: ${url}`);
  }

  /** A user who connected both apps through the consent page, and their browser, now on /account/apps. */
  async function userWithTwoApps(): Promise<{ context: BrowserContext; page: Page }> {
    const user = await newUser();
    const signedIn = await signInInBrowser(user);
    await allowInBrowser(signedIn.page, notes, 'openid profile');
    await allowInBrowser(signedIn.page, calendar, 'openid email');
    await signedIn.page.goto(`${t.url}/account/apps`);
    return signedIn;
  }

  /** The browser's session cookie, to ask the API what is left. */
  async function grantsSeenBy(context: BrowserContext): Promise<string[]> {
    const session = (await context.cookies(t.url)).find((c) => c.name === 'session_id')!;
    const res = await request(t.url).get('/api/v0/users/me/oauth2/authorizations').set('Cookie', `session_id=${session.value}`);
    return res.body.items.map((i: { app_display_name: string }) => i.app_display_name);
  }

  const mainText = async (page: Page) => (await page.locator('main').innerText()).replace(/\s+/g, ' ');

  it('lists every connected app with its scopes and a Revoke button each', async () => {
    const { context, page } = await userWithTwoApps();
    await expect(page.getByRole('heading', { name: 'Connected apps' }).isVisible()).resolves.toBe(true);
    const text = await mainText(page);
    expect(text).toContain('Acme Notes');
    expect(text).toContain('Acme Calendar');
    expect(text).toContain('Sign you in and know your user id');
    expect(text).toContain('See your name');
    expect(text).toContain('See your email address');
    const notesRow = page.locator('li.app-row', { hasText: 'Acme Notes' });
    const calendarRow = page.locator('li.app-row', { hasText: 'Acme Calendar' });
    expect(await notesRow.innerText()).toContain('See your name');
    expect(await notesRow.innerText()).not.toContain('See your email address');
    expect(await calendarRow.innerText()).toContain('See your email address');
    expect(await calendarRow.innerText()).not.toContain('See your name');
    expect(await page.getByRole('link', { name: /^Revoke/ }).count()).toBe(2);
    expect(await notesRow.getByRole('link', { name: /^Revoke \W?Acme Notes\W?$/ }).innerText()).toBe('Revoke');
    expect(await calendarRow.getByRole('link', { name: /^Revoke \W?Acme Calendar\W?$/ }).innerText()).toBe('Revoke');
    await context.close();
  });

  it('Revoke takes one app away and lands back on the page with the other still listed', async () => {
    const { context, page } = await userWithTwoApps();
    await page.screenshot({ path: screenshotPath('account-apps'), fullPage: true });
    await page.locator('li.app-row', { hasText: 'Acme Notes' }).getByRole('link', { name: /Revoke/ }).click();
    await page.getByRole('heading', { name: 'Revoke access for Acme Notes?' }).waitFor();
    expect(await mainText(page)).toContain('See your name');
    expect(await grantsSeenBy(context)).toEqual(['Acme Notes', 'Acme Calendar']);
    await page.getByRole('button', { name: 'Revoke access' }).click();
    await page.waitForURL(`${t.url}/account/apps?revoked=${notes.clientId}`);
    const text = await mainText(page);
    expect(text).toContain('Access for Acme Notes was revoked.');
    expect(await page.locator('li.app-row').allInnerTexts()).toEqual([expect.stringContaining('Acme Calendar')]);
    expect(await page.getByRole('link', { name: /^Revoke/ }).count()).toBe(1);
    await page.screenshot({ path: screenshotPath('account-apps-after-revoke'), fullPage: true });
    expect(await grantsSeenBy(context)).toEqual(['Acme Calendar']);
    await context.close();
  });

  it('says so when no app is connected', async () => {
    const { context, page } = await signInInBrowser(await newUser());
    await page.goto(`${t.url}/account/apps`);
    expect(await mainText(page)).toContain('No apps are connected to your account.');
    expect(await mainText(page)).toContain('When an app asks to use your account and you choose Allow, it is connected');
    expect(await page.getByRole('link', { name: /^Revoke/ }).count()).toBe(0);
    await context.close();
  });

  it('writes dates in the person’s own time zone and language, as the browser reports them', async () => {
    const user = await newUser();
    const context = await browser.newContext({ timezoneId: 'America/New_York', locale: 'de-DE', viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    // The sign-in page's script stores the browser's time zone; the server writes every date in it.
    await page.goto(`${t.url}/login`);
    expect((await context.cookies(t.url)).find((c) => c.name === 'tz')?.value).toBe(encodeURIComponent('America/New_York'));
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => !url.pathname.startsWith('/login'));
    await allowInBrowser(page, notes, 'openid');
    await page.goto(`${t.url}/account/apps`);
    const allowed = await page.locator('li.app-row time').first();
    const iso = (await allowed.getAttribute('datetime'))!;
    const expected = new Intl.DateTimeFormat('de-DE', { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short', timeZone: 'America/New_York' }).format(new Date(iso));
    expect(await allowed.innerText()).toBe(expected);
    expect(expected).toMatch(/GMT-[45]|EST|EDT/);
    await context.close();
  });

  it('falls back to UTC without a time zone, and lists scopes in one stable order whatever order they were granted in', async () => {
    const user = await newUser();
    await authorizeAndConsent(t, notes, user.cookie, { scope: 'profile openid email' });
    const res = await request(t.url).get('/account/apps').set('Cookie', user.cookie).set('Accept-Language', 'en-GB');
    expect(res.text).toMatch(/Allowed <time datetime="[^"]+">\d{1,2} \w{3} \d{4}, \d{2}:\d{2} UTC<\/time>/);
    const chips = [...res.text.matchAll(/<li class="risk-\w+">([^<]+)<\/li>/g)].map((m) => m[1]);
    expect(chips).toEqual(['See your email address', 'See your name', 'Sign you in and know your user id']);
  });

  it('asks before revoking, naming the app, and Cancel changes nothing', async () => {
    const { context, page } = await userWithTwoApps();
    await page.locator('li.app-row', { hasText: 'Acme Calendar' }).getByRole('link', { name: /Revoke/ }).click();
    expect(await page.title()).toBe('Revoke \u2068Acme Calendar\u2069? · Portcullis');
    expect(await mainText(page)).toContain('It will be signed out everywhere at once');
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForURL(`${t.url}/account/apps`);
    expect(await grantsSeenBy(context)).toEqual(['Acme Notes', 'Acme Calendar']);
    await context.close();
  });

  describe('over HTTP', () => {
    /** The CSRF token of the confirmation page the user sees before a revoke (so the user must have connected an app). */
    async function csrfOf(cookie: string): Promise<string> {
      const [grantId] = await grantIdsOf(cookie);
      const page = await request(t.url).get(`/account/apps/${grantId}/revoke`).set('Cookie', cookie);
      return /name="csrf_token" value="([^"]+)"/.exec(page.text)![1];
    }
    async function grantIdsOf(cookie: string): Promise<string[]> {
      const res = await request(t.url).get('/api/v0/users/me/oauth2/authorizations').set('Cookie', cookie);
      return res.body.items.map((i: { grant_id: string }) => i.grant_id);
    }

    it('sends a visitor without a session to sign in: 303 to /login?return_to=%2Faccount%2Fapps', async () => {
      const res = await request(t.url).get('/account/apps').redirects(0);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/login?return_to=%2Faccount%2Fapps');
    });

    it('is a page that is never cached', async () => {
      const user = await newUser();
      const res = await request(t.url).get('/account/apps').set('Cookie', user.cookie);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('refuses a revoke without the CSRF token: 403, and nothing is revoked', async () => {
      const user = await newUser();
      await authorizeAndConsent(t, notes, user.cookie, { scope: 'openid' });
      const [grantId] = await grantIdsOf(user.cookie);
      const res = await request(t.url).post(`/account/apps/${grantId}/revoke`).redirects(0).set('Cookie', user.cookie).type('form').send({});
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(await grantIdsOf(user.cookie)).toEqual([grantId]);
    });

    it('refuses a revoke with another session’s CSRF token: 403, and nothing is revoked', async () => {
      const user = await newUser();
      const other = await newUser();
      await authorizeAndConsent(t, notes, user.cookie, { scope: 'openid' });
      await authorizeAndConsent(t, calendar, other.cookie, { scope: 'openid' });
      const [grantId] = await grantIdsOf(user.cookie);
      const res = await request(t.url).post(`/account/apps/${grantId}/revoke`).redirects(0).set('Cookie', user.cookie).type('form')
        .send({ csrf_token: await csrfOf(other.cookie) });
      expect(res.status).toBe(403);
      expect(await grantIdsOf(user.cookie)).toEqual([grantId]);
    });

    it('revokes with the CSRF token and answers 303 to the page (SPEC §7)', async () => {
      const user = await newUser();
      await authorizeAndConsent(t, notes, user.cookie, { scope: 'openid' });
      const [grantId] = await grantIdsOf(user.cookie);
      const res = await request(t.url).post(`/account/apps/${grantId}/revoke`).redirects(0).set('Cookie', user.cookie).type('form')
        .send({ csrf_token: await csrfOf(user.cookie) });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(`/account/apps?revoked=${notes.clientId}`);
      expect(await grantIdsOf(user.cookie)).toEqual([]);
    });

    it('sends a revoke without a session to sign in, and nothing is revoked', async () => {
      const user = await newUser();
      await authorizeAndConsent(t, notes, user.cookie, { scope: 'openid' });
      const [grantId] = await grantIdsOf(user.cookie);
      const res = await request(t.url).post(`/account/apps/${grantId}/revoke`).redirects(0).type('form').send({ csrf_token: await csrfOf(user.cookie) });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/login?return_to=%2Faccount%2Fapps');
      expect(await grantIdsOf(user.cookie)).toEqual([grantId]);
    });

    it('does not revoke another user’s grant, even with a valid form', async () => {
      const user = await newUser();
      const intruder = await newUser();
      await authorizeAndConsent(t, notes, user.cookie, { scope: 'openid' });
      await authorizeAndConsent(t, calendar, intruder.cookie, { scope: 'openid' });
      const [grantId] = await grantIdsOf(user.cookie);
      const res = await request(t.url).post(`/account/apps/${grantId}/revoke`).redirects(0).set('Cookie', intruder.cookie).type('form')
        .send({ csrf_token: await csrfOf(intruder.cookie) });
      expect(res.status).toBe(303);
      expect(await grantIdsOf(user.cookie)).toEqual([grantId]);
      expect(await grantIdsOf(intruder.cookie)).toHaveLength(1);
    });
  });
});
