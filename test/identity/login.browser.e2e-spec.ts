import { Browser, Page } from 'playwright-core';
import { bootApp, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { launchBrowser, screenshotPath } from '../helpers/browser';
import { createApp } from '../helpers/clients';
import { createUser, postLogin, signIn } from '../helpers/identity';
import { authorizeParams, pkce, query } from '../helpers/oauth';
import { registerApp } from '../helpers/protocol';

jest.setTimeout(120_000);

describe('the sign-in page in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  beforeAll(async () => {
    [t, browser] = await Promise.all([bootApp({ env: { OAUTH2_DCR_ENABLED: 'true' } }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('signs in with the labelled fields and lands on return_to', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.url}/login?return_to=${encodeURIComponent('/?from=browser')}`);
    await page.screenshot({ path: screenshotPath('login-page'), fullPage: true });

    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.waitForURL(`${t.url}/?from=browser`);
    await expectText(page.locator('main'), 'You are signed in as admin');
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'session_id')).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    await page.screenshot({ path: screenshotPath('signed-in-home'), fullPage: true });
    await context.close();
  });

  it('shows the generic message for a wrong password', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.url}/login`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('definitely-wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectText(page.getByRole('alert'), 'The username or password is incorrect.');
    await page.screenshot({ path: screenshotPath('login-failed'), fullPage: true });
    await context.close();
  });
});

describe('the sign-in page tells people where they are and what went wrong', () => {
  let t: TestApp;
  let browser: Browser;
  let admin: string;
  beforeAll(async () => {
    [t, browser] = await Promise.all([bootApp({ env: { OAUTH2_DCR_ENABLED: 'true' } }), launchBrowser()]);
    admin = await signIn(t);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const activeId = (page: Page) => page.evaluate<string>('document.activeElement && document.activeElement.id');

  for (const viewport of [{ width: 390, height: 844 }, { width: 1280, height: 800 }]) {
    it(`says which app the sign-in is for when an authorization request sent the browser here (${viewport.width} px)`, async () => {
      const app = await createApp(t, admin, { name: `notes-${viewport.width}`, display_name: 'Acme Notes' });
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      await page.goto(`${t.url}/oauth2/authorize?${query(authorizeParams(app, pkce().challenge))}`);
      await page.waitForURL(/\/login\?return_to=/);
      expect((await page.locator('main .lead').innerText()).replace(/\s+/g, ' ')).toBe('to continue to Acme Notes');
      expect(await page.title()).toBe('Sign in to continue to \u2068Acme Notes\u2069 · Portcullis');
      expect(await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);
      await page.screenshot({ path: screenshotPath(`login-for-app-${viewport.width}`), fullPage: true });
      await context.close();
    });
  }

  it('marks a self-registered app on the sign-in page, and says nothing of an unknown one', async () => {
    const dcr = await registerApp(t, { client_name: 'Some Agent', redirect_uris: ['https://agent.example/cb'] });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.url}/login?return_to=${encodeURIComponent(`/oauth2/authorize?client_id=${dcr.clientId}&response_type=code`)}`);
    expect((await page.locator('main .lead').innerText()).replace(/\s+/g, ' ')).toBe('to continue to Some Agent not reviewed');
    await page.goto(`${t.url}/login?return_to=${encodeURIComponent('/oauth2/authorize?client_id=nobody&response_type=code')}`);
    expect(await page.locator('main .lead').innerText()).toBe('Use your account to continue.');
    await context.close();
  });

  it('after a wrong password: the focus is on the password field and the error is tied to both fields', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.url}/login`);
    expect(await activeId(page)).toBe('username');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await activeId(page)).toBe('password');
    for (const id of ['username', 'password']) {
      const field = page.locator(`#${id}`);
      expect(await field.getAttribute('aria-invalid')).toBe('true');
      expect(await field.getAttribute('aria-describedby')).toBe('login-error');
    }
    expect(await page.locator('#login-error').innerText()).toBe('The username or password is incorrect.');
    expect(await page.getByLabel('Username').inputValue()).toBe('admin');
    await context.close();
  });

  it('while locked out, shows the form as unavailable until the time has passed, then opens it again', async () => {
    const locked = await createUser(t, admin, { username: 'locked-out' });
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.clock.install();
    // Nine failures over HTTP, the rest in the browser until the limit answers.
    for (let attempt = 0; attempt < 9; attempt++) expect((await postLogin(t, locked.username, `wrong-http-${attempt}`)).status).toBe(401);
    let status = 0;
    page.on('response', (r) => { if (r.url().endsWith('/login') && r.request().method() === 'POST') status = r.status(); });
    for (let attempt = 0; attempt < 3 && status !== 429; attempt++) {
      await page.goto(`${t.url}/login`);
      await page.getByLabel('Username').fill(locked.username);
      await page.getByLabel('Password').fill(`wrong-${attempt}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#login-error').waitFor();
    }
    expect(status).toBe(429);
    const text = (await page.locator('main').innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('Too many failed attempts.');
    expect(text).toMatch(/Sign-in is paused until \d{1,2}:\d{2}/);
    expect(await page.getByLabel('Password').isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Sign in' }).isDisabled()).toBe(true);
    await page.screenshot({ path: screenshotPath('login-locked-phone'), fullPage: true });

    await page.clock.fastForward('05:01');
    await page.getByRole('button', { name: 'Sign in' }).waitFor({ state: 'visible' });
    await page.waitForFunction('!document.querySelector("fieldset").disabled');
    expect(await page.locator('#login-locked').innerText()).toBe('You can try again now.');
    expect(await page.getByLabel('Password').isDisabled()).toBe(false);
    await context.close();
  });
});

async function expectText(locator: { textContent(): Promise<string | null> }, text: string): Promise<void> {
  expect((await locator.textContent())?.replace(/\s+/g, ' ')).toContain(text);
}
