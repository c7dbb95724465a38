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
    expect(await page.getByRole('button', { name: /Revoke/ }).count()).toBe(2);
    expect(await notesRow.getByRole('button', { name: /Revoke/ }).innerText()).toBe('Revoke');
    expect(await calendarRow.getByRole('button', { name: /Revoke/ }).innerText()).toBe('Revoke');
    await context.close();
  });

  it('Revoke takes one app away and lands back on the page with the other still listed', async () => {
    const { context, page } = await userWithTwoApps();
    await page.screenshot({ path: screenshotPath('account-apps'), fullPage: true });
    await page.locator('li.app-row', { hasText: 'Acme Notes' }).getByRole('button', { name: /Revoke/ }).click();
    await page.waitForURL(`${t.url}/account/apps?revoked=1`);
    const text = await mainText(page);
    expect(text).toContain('Access revoked.');
    expect(text).not.toContain('Acme Notes');
    expect(text).toContain('Acme Calendar');
    expect(await page.getByRole('button', { name: /Revoke/ }).count()).toBe(1);
    await page.screenshot({ path: screenshotPath('account-apps-after-revoke'), fullPage: true });
    expect(await grantsSeenBy(context)).toEqual(['Acme Calendar']);
    await context.close();
  });

  it('says so when no app is connected', async () => {
    const { context, page } = await signInInBrowser(await newUser());
    await page.goto(`${t.url}/account/apps`);
    expect(await mainText(page)).toContain('You have not connected any apps.');
    expect(await page.getByRole('button', { name: /Revoke/ }).count()).toBe(0);
    await context.close();
  });

  describe('over HTTP', () => {
    /** The CSRF token of the page the user sees (it is in each app's form, so the user must have connected one). */
    async function csrfOf(cookie: string): Promise<string> {
      const page = await request(t.url).get('/account/apps').set('Cookie', cookie);
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
      expect(res.headers.location).toBe('/account/apps?revoked=1');
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
