import { Browser, Page } from 'playwright-core';
import { bootApp, TestApp } from '../helpers/app';
import { launchBrowser, screenshotPath } from '../helpers/browser';
import { createApp, RegisteredApp } from '../helpers/clients';
import { createUser, signIn } from '../helpers/identity';
import { RedirectListener } from '../helpers/listener';
import { authorizeParams, pkce, query } from '../helpers/oauth';

jest.setTimeout(60_000);

describe('the consent screen in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let listener: RedirectListener;
  let app: RegisteredApp;
  let alice: { username: string; password: string };

  beforeAll(async () => {
    listener = new RedirectListener();
    const [booted, launched, redirectUri] = await Promise.all([bootApp(), launchBrowser(), listener.start()]);
    t = booted;
    browser = launched;
    const admin = await signIn(t);
    alice = await createUser(t, admin, { username: 'alice', given_name: 'Alice', family_name: 'Liddell', email: 'alice@example.com' });
    app = await createApp(t, admin, { name: 'notes', display_name: 'Acme Notes', redirect_uris: [redirectUri], client_uri: 'https://notes.example.com', grant_types: ['authorization_code', 'refresh_token'] });
  });
  afterAll(async () => {
    await browser?.close();
    await listener?.stop();
    await t?.close();
  });

  /** Opens the authorization URL in a fresh browser, signs in on the real page, and lands on the consent page. */
  async function reachConsent(state: string, viewport = { width: 1280, height: 800 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const params = authorizeParams(app, pkce().challenge, { scope: 'openid profile email offline_access', state, prompt: 'consent' });
    await page.goto(`${t.url}/oauth2/authorize?${query(params)}`);
    await page.getByLabel('Username').fill(alice.username);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    return page;
  }

  it('signs in, shows the app and its scopes, and Allow arrives at the client with code, state and iss', async () => {
    const page = await reachConsent('browser-allow');
    const text = (await page.locator('main').innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('Acme Notes wants to access your account');
    expect(text).toContain('See your name');
    expect(text).toContain('See your email address');
    expect(text).toContain('Stay connected when you are not using it');
    expect(text).toContain('Keeps access after you close the app');
    expect(text).toContain('Signed in as Alice Liddell');
    expect(text).toContain('127.0.0.1');
    await page.screenshot({ path: screenshotPath('consent-desktop'), fullPage: true });

    const arrived = listener.next();
    await page.getByRole('button', { name: 'Allow' }).click();
    const url = await arrived;
    expect(Object.fromEntries(url.searchParams)).toEqual({ code: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), state: 'browser-allow', iss: t.url });
    await page.context().close();
  });

  it('Deny arrives at the client with access_denied', async () => {
    const page = await reachConsent('browser-deny');
    const arrived = listener.next();
    await page.getByRole('button', { name: 'Deny' }).click();
    const url = await arrived;
    expect(Object.fromEntries(url.searchParams)).toEqual({ error: 'access_denied', error_description: expect.any(String), state: 'browser-deny', iss: t.url });
    await page.context().close();
  });

  it('reads well at phone width', async () => {
    const page = await reachConsent('browser-phone', { width: 390, height: 844 });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    const allow = await page.getByRole('button', { name: 'Allow' }).boundingBox();
    expect(allow!.height).toBeGreaterThanOrEqual(44);
    await page.screenshot({ path: screenshotPath('consent-phone'), fullPage: true });
    await page.context().close();
  });
});
