import { Browser } from 'playwright-core';
import { bootApp, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { launchBrowser, screenshotPath } from '../helpers/browser';

jest.setTimeout(60_000);

describe('the sign-in page in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  beforeAll(async () => {
    [t, browser] = await Promise.all([bootApp(), launchBrowser()]);
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

async function expectText(locator: { textContent(): Promise<string | null> }, text: string): Promise<void> {
  expect((await locator.textContent())?.replace(/\s+/g, ' ')).toContain(text);
}
