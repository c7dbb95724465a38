import type { OpenAPIObject } from '@nestjs/swagger';
import { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import request from 'supertest';
import { bootApp, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { launchBrowser, screenshotPath } from '../helpers/browser';
import { createServiceAccount, signIn } from '../helpers/identity';
import { operationsOf, requestBodySamples } from '../helpers/openapi-samples';

// Generous: Swagger UI is a large page, and a loaded machine must pass too (durations are never asserted).
jest.setTimeout(120_000);

/** The order an admin works in: apps, users, service accounts, orgs, keys; then the protocol; health last. */
const ADMIN_ORDER = ['apps', 'users', 'service-accounts', 'orgs', 'keys', 'audit', 'me', 'tokens', 'oauth2', 'discovery', 'health'];

/** Swagger UI at /docs, as an admin uses it: real Chromium, on a desktop and on a phone. */
describe('Swagger UI at /docs in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let document: OpenAPIObject;
  let adminCookie: string;
  beforeAll(async () => {
    [t, browser] = await Promise.all([bootApp(), launchBrowser()]);
    document = (await request(t.url).get('/docs/openapi.json').expect(200)).body as OpenAPIObject;
    adminCookie = await signIn(t);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** What an admin reads at each width, on one load of the page (Swagger UI is large). */
  describe.each([1280, 390])('%i px wide', (width) => {
    let context: BrowserContext;
    let page: Page;
    beforeAll(async () => {
      context = await browser.newContext({ viewport: { width, height: 900 } });
      context.setDefaultTimeout(60_000);
      page = await openDocs(context);
    });
    afterAll(() => context?.close());

    it('lists the tags in the order an admin works, each with its description', async () => {
      const tags = await page.locator('h3.opblock-tag').evaluateAll((headings) =>
        headings.map((h) => ({ name: h.getAttribute('data-tag'), description: h.querySelector('small')?.textContent?.trim() })),
      );
      expect(tags.map((tag) => tag.name)).toEqual(ADMIN_ORDER);
      // Markdown: `admin` is shown as code, without the backticks.
      expect(tags).toEqual(document.tags?.map((tag) => ({ name: tag.name, description: tag.description?.replace(/`/g, '') })));
      for (const name of ADMIN_ORDER) expect(await page.locator(`h3.opblock-tag[data-tag="${name}"] small`).isVisible()).toBe(true);
      await page.screenshot({ path: screenshotPath(`swagger-ui-tags-${width}`), fullPage: true });
    });

    it('shows a summary on every operation', async () => {
      const blocks = page.locator('.opblock');
      const shown = await blocks.evaluateAll((elements) =>
        elements.map((block) => {
          const summary = block.querySelector('.opblock-summary-description');
          const box = summary?.getBoundingClientRect();
          return {
            path: block.querySelector('.opblock-summary-path')?.getAttribute('data-path'),
            method: block.querySelector('.opblock-summary-method')?.textContent?.toLowerCase(),
            summary: summary?.textContent?.trim(),
            visible: !!box && box.width > 0 && box.height > 0,
          };
        }),
      );
      const expected = operationsOf(document).map(({ method, path, operation }) => ({ path, method, summary: operation.summary, visible: true }));
      expect(shown).toHaveLength(expected.length);
      expect(shown).toEqual(expect.arrayContaining(expected));
      expect(shown.filter((block) => !block.summary || !block.visible)).toEqual([]);
    });

    it('offers only the bearer scheme under Authorize: no session scheme', async () => {
      await page.locator('.auth-wrapper button.authorize').click();
      const schemes = await page.locator('.modal-ux .auth-container h4').allTextContents();
      expect(schemes.map((s) => s.replace(/\s+/g, ' ').trim())).toEqual(['bearer (http, Bearer)']);
      expect(Object.keys(document.components?.securitySchemes ?? {})).toEqual(['bearer']);
      await page.locator('.modal-ux').getByRole('button', { name: 'Close' }).click();
    });
  });

  /** Using it, at desktop width: each in a browser of its own, so a session or a token is the only credential. */
  describe('trying it out', () => {
    const width = 1280;
    let context: BrowserContext;
    beforeEach(async () => {
      context = await browser.newContext({ viewport: { width, height: 900 } });
      context.setDefaultTimeout(60_000);
    });
    afterEach(() => context.close());

    it('answers "Try it out" on GET /api/v1/users with 200 after a sign-in at /login in the same browser', async () => {
      const page = await context.newPage();
      await page.goto(`${t.url}/login?return_to=${encodeURIComponent('/docs')}`);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${t.url}/docs`);
      await page.locator('.opblock-tag').first().waitFor();

      const response = await tryItOut(page, 'Users_list');
      expect(await response.status.textContent()).toBe('200');
      expect(await response.body.textContent()).toContain('"username": "admin"');
      await response.status.scrollIntoViewIfNeeded();
      await page.screenshot({ path: screenshotPath(`swagger-ui-try-it-out-${width}`), fullPage: false });
    });

    it('keeps a bearer token entered under Authorize across a reload, and sends it', async () => {
      const { token } = await createServiceAccount(t, adminCookie, `docs-reader-${width}`, 'admin');
      const page = await openDocs(context); // no session in this context: only the token can authenticate
      await page.locator('.auth-wrapper button.authorize').click();
      const dialog = page.locator('.modal-ux');
      await dialog.getByLabel('auth-bearer-value').fill(token);
      await dialog.getByRole('button', { name: 'Apply credentials' }).click(); // the dialog's "Authorize"
      await dialog.getByRole('button', { name: 'Close' }).click();

      await page.reload();
      await page.locator('.opblock-tag').first().waitFor();
      const stored = await page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem('authorized'));
      expect(JSON.parse(stored ?? '{}')).toMatchObject({ bearer: { name: 'bearer', value: token } });
      await page.locator('.auth-wrapper button.authorize').click();
      expect(await dialog.locator('.auth-container').textContent()).toContain('Authorized');
      await expectVisible(dialog.getByRole('button', { name: 'Remove authorization' })); // "Logout"
      await page.screenshot({ path: screenshotPath(`swagger-ui-authorized-${width}`), fullPage: false });
      await dialog.getByRole('button', { name: 'Close' }).click();

      const response = await tryItOut(page, 'Users_list');
      expect(await response.status.textContent()).toBe('200');
      expect(await response.curl.textContent()).toContain(`Authorization: Bearer ${token}`);
    });
  });

  it('fills in, for every /api request body, the example that the examples test sends', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(60_000);
    const page = await openDocs(context);
    const withBodies = operationsOf(document).filter((op) => op.path.startsWith('/api/') && requestBodySamples(document, op));
    expect(withBodies.length).toBeGreaterThan(0);
    for (const op of withBodies) {
      const block = page.locator(`#operations-${op.operation.tags[0]}-${op.operation.operationId}`);
      await block.locator('.opblock-summary-control').click();
      await block.getByRole('button', { name: 'Try it out' }).click();
      const filled = JSON.parse(await block.locator('textarea.body-param__text').inputValue());
      expect({ operation: `${op.method} ${op.path}`, body: filled }).toEqual({ operation: `${op.method} ${op.path}`, body: requestBodySamples(document, op)?.[0] });
      await block.locator('.opblock-summary-control').click(); // collapse again: fewer open operations, faster renders
    }
    await context.close();
  }, 300_000);

  async function openDocs(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${t.url}/docs`);
    await page.locator('.opblock-tag').first().waitFor();
    return page;
  }
});

/** Expands an operation, "Try it out", "Execute": Swagger UI's response panel. */
async function tryItOut(page: Page, operationId: string): Promise<{ status: Locator; body: Locator; curl: Locator }> {
  const block = page.locator(`.opblock[id$="-${operationId}"]`);
  await block.locator('.opblock-summary-control').click();
  await block.getByRole('button', { name: 'Try it out' }).click();
  await block.getByRole('button', { name: 'Execute' }).click();
  const live = block.locator('.live-responses-table .response');
  await live.first().waitFor();
  return { status: live.locator('.response-col_status').first(), body: live.locator('.response-col_description .microlight').first(), curl: block.locator('.curl-command') };
}

async function expectVisible(locator: Locator): Promise<void> {
  await locator.waitFor({ state: 'visible' });
  expect(await locator.isVisible()).toBe(true);
}
