import { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { launchBrowser, screenshotPath } from '../helpers/browser';
import { createApp, RegisteredApp } from '../helpers/clients';
import { createUser, signIn } from '../helpers/identity';
import { RedirectListener } from '../helpers/listener';
import { authorizeAndConsent, authorizeParams, Params, pkce, query } from '../helpers/oauth';
import { registerApp } from '../helpers/protocol';

jest.setTimeout(120_000);

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const NARROWEST = { width: 320, height: 640 };
/** A day as the browser's language writes it: "December 2, 2026" (en-US) or "2 December 2026". */
const A_DAY = '(\\w+ \\d{1,2}, \\d{4}|\\d{1,2} \\w+ \\d{4})';

/** 200 characters without a break: the longest name a registration may have. */
const LONG_NAME = `Super${'x'.repeat(190)}Notes`;
const LONG_PATH = `https://very-long-host-name.example.com/${'p'.repeat(180)}`;

/**
 * The consent page as people meet it (issue 12 items 1–3): who is asking, in facts the server knows, what the app
 * will be able to do, riskiest first — and no registration can spoof or break it.
 */
describe('the consent page in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let listener: RedirectListener;
  let admin: string;
  let redirectUri: string;
  let users = 0;

  beforeAll(async () => {
    listener = new RedirectListener();
    const [booted, launched, uri] = await Promise.all([bootApp({ env: { OAUTH2_DCR_ENABLED: 'true' } }), launchBrowser(), listener.start()]);
    t = booted;
    browser = launched;
    redirectUri = uri;
    admin = await signIn(t);
  });
  afterAll(async () => {
    await browser?.close();
    await listener?.stop();
    await t?.close();
  });

  async function newUser(role: 'user' | 'admin' = 'user'): Promise<string> {
    const user = await createUser(t, admin, { username: `person${++users}`, given_name: 'Pat', family_name: `Person ${users}`, role });
    return signIn(t, user.username, user.password);
  }

  /** A signed-in browser (the session cookie set directly) on the consent page of this request. */
  async function consentPage(app: RegisteredApp, extra: Params, options: { viewport?: { width: number; height: number }; cookie?: string } = {}): Promise<Page> {
    const cookie = options.cookie ?? (await newUser());
    const context = await browser.newContext({ viewport: options.viewport ?? DESKTOP });
    await context.addCookies([{ name: 'session_id', value: cookie.replace(/^session_id=/, ''), url: t.url }]);
    const page = await context.newPage();
    await page.goto(`${t.url}/oauth2/authorize?${query(authorizeParams(app, pkce().challenge, { prompt: 'consent', ...extra }))}`);
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    return page;
  }

  const textOf = async (page: Page, selector = 'main') => (await page.locator(selector).innerText()).replace(/\s+/g, ' ');
  const overflow = (page: Page) => page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');

  describe('who is asking', () => {
    it('an app the organisation added: a positive mark, its website linked, its logo, Allow as the primary button', async () => {
      const app = await createApp(t, admin, {
        name: 'notes', display_name: 'Acme Notes', redirect_uris: ['https://notes.example.com/cb'],
        client_uri: 'https://notes.example.com', logo_uri: 'https://127.0.0.1:1/logo.png',
      });
      const page = await consentPage(app, {});
      const facts = await textOf(page, 'ul.facts');
      expect(facts).toContain('You will be sent to notes.example.com');
      expect(facts).toContain('Added by your organisation');
      expect(await page.getByRole('link', { name: 'notes.example.com' }).getAttribute('href')).toBe('https://notes.example.com');
      expect(await textOf(page)).not.toContain('Not reviewed by your organisation');
      expect(await page.getByRole('button', { name: 'Allow' }).getAttribute('class')).toContain('primary');
      expect(await page.getByRole('button', { name: 'Deny' }).getAttribute('class')).not.toContain('primary');
      await page.context().close();
    });

    it('a logo that fails to load leaves the initial, never a broken-image glyph', async () => {
      const app = await createApp(t, admin, { name: 'broken-logo', display_name: 'Broken Logo', logo_uri: 'https://127.0.0.1:1/logo.png' });
      const page = await consentPage(app, {});
      await page.waitForFunction('document.querySelector("img[data-logo]").hidden === true');
      expect(await page.locator('.app-initial').isVisible()).toBe(true);
      expect(await page.locator('.app-initial').innerText()).toBe('B');
      await page.context().close();
    });

    it('a self-registered app: when it registered, how many people use it, its website as its own claim, no remote logo, Deny primary', async () => {
      const app = await registerApp(t, {
        client_name: 'Helpful Agent', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none',
        client_uri: 'https://helpful-agent.example', logo_uri: 'https://logo.helpful-agent.example/logo.png',
      });
      const requests: string[] = [];
      const page = await consentPage(app, {});
      page.on('request', (r) => requests.push(r.url()));
      const facts = await textOf(page, 'ul.facts');
      expect(facts).toContain('You will be sent back to an app on this computer (127.0.0.1:');
      expect(facts).toMatch(new RegExp(`Registered itself on ${A_DAY}`));
      expect(facts).toContain('Nobody in your organisation has connected it yet');
      expect(facts).toContain('Says its website is helpful-agent.example (not checked)');
      expect(await page.getByRole('link', { name: 'helpful-agent.example' }).count()).toBe(0);
      expect(await page.locator('img').count()).toBe(0);
      expect(await page.locator('.app-initial').innerText()).toBe('H');
      expect(await textOf(page)).toContain('Not reviewed by your organisation.');
      expect(await textOf(page)).toContain('An administrator can review it to make it one of your organisation’s apps.');
      expect(await page.getByRole('button', { name: 'Deny' }).getAttribute('class')).toContain('primary');
      expect(await page.getByRole('button', { name: 'Allow' }).getAttribute('class')).not.toContain('primary');
      expect(requests.filter((u) => u.includes('helpful-agent'))).toEqual([]);
      await page.context().close();

      // Someone connects it: the next person sees that one colleague did.
      await authorizeAndConsent(t, app, await newUser(), { scope: 'openid' });
      const second = await consentPage(app, {});
      expect(await textOf(second, 'ul.facts')).toContain('1 person in your organisation connected it');
      await second.context().close();
    });

    it('a self-registered app whose website is on its redirect host links it', async () => {
      const app = await registerApp(t, { client_name: 'Same Host', redirect_uris: ['https://same.example.org/cb'], client_uri: 'https://same.example.org' });
      const page = await consentPage(app, {});
      expect(await page.getByRole('link', { name: 'same.example.org' }).getAttribute('href')).toBe('https://same.example.org');
      await page.context().close();
    });

    it('an admin reviews a self-registered app through the admin API: from then on it is the organisation’s', async () => {
      const app = await registerApp(t, { client_name: 'Reviewed Agent', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' });
      const list = await request(t.url).get('/api/v1/oauth2/apps?per_page=100').set('Cookie', admin);
      const { id } = list.body.items.find((a: { client_id: string }) => a.client_id === app.clientId);
      const reviewed = await request(t.url).post(`/api/v1/oauth2/apps/${id}/review`).set('Cookie', admin);
      expect(reviewed.status).toBe(200);
      expect(reviewed.body).toMatchObject({ provenance: 'api', reviewed_at: expect.any(String) });

      const page = await consentPage(app, {});
      const facts = await textOf(page, 'ul.facts');
      expect(facts).toMatch(new RegExp(`Added by your organisation · reviewed on ${A_DAY}`));
      expect(await textOf(page)).not.toContain('Not reviewed by your organisation');
      expect(await page.getByRole('button', { name: 'Allow' }).getAttribute('class')).toContain('primary');
      await page.context().close();
    });
  });

  describe('what it will be able to do', () => {
    let everything: RegisteredApp;
    beforeAll(async () => {
      everything = await createApp(t, admin, {
        name: 'console', display_name: 'Ops Console', grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile email offline_access account admin',
      });
    });

    it('lists the scopes riskiest first, marks admin, account and offline_access with what they mean', async () => {
      const page = await consentPage(everything, { scope: 'openid profile email offline_access account admin' }, { cookie: await newUser('admin') });
      const scopes = await page.locator('li.scope .scope-description').allInnerTexts();
      expect(scopes).toEqual([
        'Administer Portcullis: users, apps and service accounts',
        expect.stringMatching(/^Act as you on this account/),
        'Stay connected when you are not using it (refresh tokens)',
        'See your email address',
        'See your name',
        'Sign you in and know your user id',
      ]);
      expect(await page.locator('li.scope .scope-mark').allInnerTexts()).toEqual(['Administrator access', 'Acts as you', 'Ongoing access']);
      expect(await textOf(page, 'ul.scopes')).toContain('Keeps access after you close the app');
      await page.screenshot({ path: screenshotPath('consent-all-scopes'), fullPage: true });
      await page.context().close();
    });

    it('keeps the raw scope names behind a “technical details” disclosure', async () => {
      const page = await consentPage(everything, { scope: 'openid email' });
      const details = page.locator('details.technical');
      expect(await details.getAttribute('open')).toBeNull();
      expect(await page.getByText('openid', { exact: true }).isVisible()).toBe(false);
      await details.locator('summary').click();
      expect(await page.locator('details.technical code.scope-name').allInnerTexts()).toEqual(['email', 'openid']);
      expect(await textOf(page, 'details.technical')).toContain(everything.clientId);
      await page.context().close();
    });

    it('does not show a scope the app cannot use: offline_access without the refresh grant', async () => {
      const app = await createApp(t, admin, { name: 'no-refresh', display_name: 'No Refresh' });
      const page = await consentPage(app, { scope: 'openid offline_access' });
      expect(await textOf(page, 'ul.scopes')).not.toContain('Stay connected');
      expect(await page.locator('details.technical code.scope-name').allTextContents()).toEqual(['openid']);
      await page.context().close();
    });

    it('lists the resources (RFC 8707 audiences) the tokens will be for', async () => {
      const page = await consentPage(everything, { scope: 'openid', resource: ['https://api.example.com/', 'https://files.example.com/'] });
      expect(await page.locator('ul.resources li').allInnerTexts()).toEqual(['https://api.example.com/', 'https://files.example.com/']);
      await page.context().close();
    });

    it('keeps Allow and Deny in view on a phone without scrolling, whatever the request', async () => {
      const page = await consentPage(everything, { scope: 'openid profile email offline_access account admin', resource: ['https://api.example.com/'] }, { viewport: PHONE, cookie: await newUser('admin') });
      for (const name of ['Allow', 'Deny']) {
        const box = (await page.getByRole('button', { name }).boundingBox())!;
        expect(box.y).toBeGreaterThanOrEqual(0);
        expect(box.y + box.height).toBeLessThanOrEqual(PHONE.height);
        expect(box.height).toBeGreaterThanOrEqual(44);
      }
      expect(await page.evaluate<number>('window.scrollY')).toBe(0);
      await page.screenshot({ path: screenshotPath('consent-phone-all-scopes') });
      await page.context().close();
    });
  });

  describe('hostile registrations', () => {
    it('a 200-character unbroken name and URL never widen the page (320 px to desktop); the name is capped with the full name below', async () => {
      const app = await registerApp(t, { client_name: LONG_NAME, redirect_uris: [LONG_PATH], client_uri: LONG_PATH, token_endpoint_auth_method: 'none' });
      for (const viewport of [NARROWEST, PHONE, DESKTOP]) {
        const page = await consentPage(app, {}, { viewport });
        await page.locator('details.technical summary').click();
        expect(await overflow(page)).toBeLessThanOrEqual(0);
        const heading = await page.locator('h1 .app-name').innerText();
        expect(heading.length).toBeLessThanOrEqual(48);
        expect(heading.endsWith('…')).toBe(true);
        expect(await textOf(page, '.full-name')).toBe(`Full name: ${LONG_NAME}`);
        await page.screenshot({ path: screenshotPath(`consent-long-name-${viewport.width}`), fullPage: true });
        await page.context().close();
      }
    });

    it('the same name never widens the sign-in, connected-apps, revoke or error pages either', async () => {
      const app = await registerApp(t, { client_name: LONG_NAME, redirect_uris: [LONG_PATH], token_endpoint_auth_method: 'none' });
      const cookie = await newUser();
      await authorizeAndConsent(t, app, cookie, { scope: 'openid' });
      const grants = await request(t.url).get('/api/v0/users/me/oauth2/authorizations').set('Cookie', cookie);
      const grantId = grants.body.items[0].grant_id as string;
      const authorize = `/oauth2/authorize?${query(authorizeParams(app, pkce().challenge))}`;
      const pages = [
        `/login?return_to=${encodeURIComponent(authorize)}`,
        '/account/apps',
        `/account/apps/${grantId}/revoke`,
        `/oauth2/authorize?client_id=${app.clientId}&response_type=code&redirect_uri=${encodeURIComponent(`${LONG_PATH}x`)}`,
      ];
      const widened: string[] = [];
      for (const viewport of [NARROWEST, DESKTOP]) {
        const context = await browser.newContext({ viewport });
        await context.addCookies([{ name: 'session_id', value: cookie.replace(/^session_id=/, ''), url: t.url }]);
        const page = await context.newPage();
        for (const path of pages) {
          await page.goto(`${t.url}${path}`);
          if ((await overflow(page)) > 0) widened.push(`${path} at ${viewport.width} px`);
        }
        await context.close();
      }
      expect(widened).toEqual([]);
    });

    it('a script in the name is shown as text and never runs', async () => {
      const name = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">';
      const app = await registerApp(t, { client_name: name, redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' });
      const page = await consentPage(app, {});
      const dialogs: string[] = [];
      page.on('dialog', (d) => dialogs.push(d.message()));
      expect(await page.locator('h1 .app-name').innerText()).toBe(`${name.slice(0, 47)}…`);
      expect(await textOf(page, '.full-name')).toBe(`Full name: ${name}`);
      expect(await page.evaluate('window.pwned')).toBeUndefined();
      expect(await page.locator('main img').count()).toBe(0);
      expect(dialogs).toEqual([]);
      await page.context().close();
    });

    it('a lookalike of a well-known product is marked as self-registered, warned about for its mixed alphabets, and Deny is the default', async () => {
      // "GitHub" with a Cyrillic "і" and "Н".
      const app = await registerApp(t, { client_name: 'Gіt\u041dub', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' });
      const page = await consentPage(app, {});
      const text = await textOf(page);
      expect(text).toContain('Not reviewed by your organisation.');
      expect(text).toContain('Its name mixes Latin and Cyrillic letters, which can make it look like another app.');
      expect(await page.getByRole('button', { name: 'Deny' }).getAttribute('class')).toContain('primary');
      await page.screenshot({ path: screenshotPath('consent-lookalike'), fullPage: true });
      await page.context().close();
    });

    it('bidi controls are refused at registration, so no name can reverse what the page says', async () => {
      for (const name of ['Acme\u202Egnp.exe', 'Acme\u2066Notes\u2069', 'Zero\u200Bwidth', 'Mark\u200F', 'Arabic\u061Cmark', 'Bell\u0007', 'C1\u0085']) {
        const res = await request(t.url).post('/oauth2/register').send({ client_name: name, redirect_uris: ['https://x.example/cb'] });
        expect({ name, status: res.status, error: res.body.error }).toEqual({ name, status: 400, error: 'invalid_client_metadata' });
      }
    });

    it('renders names isolated: a right-to-left name cannot reorder the sentence around it, in the heading, the <title> and aria-labels', async () => {
      const hebrew = 'פנקס';
      const app = await registerApp(t, { client_name: `${hebrew} 2`, redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' });
      const page = await consentPage(app, {});
      expect(await page.locator('h1 bdi.app-name').innerText()).toBe(`${hebrew} 2`);
      expect(await page.title()).toBe(`Allow \u2068${hebrew} 2\u2069 to access your account? · Portcullis`);
      expect(await page.locator('bdi.redirect-host').innerText()).toMatch(/^127\.0\.0\.1:\d+$/);
      await page.context().close();
    });
  });
});
