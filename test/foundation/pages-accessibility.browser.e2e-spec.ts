import { Browser, BrowserContext, Page, Response } from 'playwright-core';
import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { axeViolations, contrastRatio, launchBrowser, relativeLuminance, screenshotPath, tabTo } from '../helpers/browser';
import { createApp, RegisteredApp } from '../helpers/clients';
import { createUser, postLogin, signIn } from '../helpers/identity';
import { authorizeAndConsent, authorizeParams, pkce, query } from '../helpers/oauth';

jest.setTimeout(120_000);

/**
 * Every Portcullis page, in Chromium, in the light theme and in the dark one that follows prefers-color-scheme, at
 * phone (390 px) and desktop (1280 px) width: axe-core reports no WCAG 2.2 A/AA or best-practice violation, the
 * document names its language and its page, focus is visible (solid, ≥ 2 px, ≥ 3:1 against the card, WCAG 2.2
 * 2.4.11/2.4.13), input borders reach 3:1 (1.4.11), and every error page says what happened, what to do next,
 * offers a way onward and shows the request id.
 */

interface Variant {
  readonly theme: 'light' | 'dark';
  readonly device: 'phone' | 'desktop';
  readonly viewport: { width: number; height: number };
}

const VARIANTS: Variant[] = [
  { theme: 'light', device: 'phone', viewport: { width: 390, height: 844 } },
  { theme: 'light', device: 'desktop', viewport: { width: 1280, height: 800 } },
  { theme: 'dark', device: 'phone', viewport: { width: 390, height: 844 } },
  { theme: 'dark', device: 'desktop', viewport: { width: 1280, height: 800 } },
];
const LIGHT_DESKTOP = VARIANTS[1];

/** The users' session cookies (`session_id` values), made once over HTTP. */
interface Sessions {
  /** Admin: signed-in home, consent for both apps. */
  readonly admin: string;
  /** Connected to Acme Notes: the apps list, the revoke confirmation, the expired form. */
  readonly bob: string;
  /** Connected to nothing. */
  readonly carol: string;
}

interface PageCase {
  readonly name: string;
  /** Pages of one kind may share a title; pages of different kinds never do. */
  readonly kind: string;
  readonly status: number;
  readonly title: RegExp;
  /** Opens the page in a fresh context; answers the response that rendered it. */
  open(page: Page): Promise<Response>;
  /** Saved as a screenshot in these variants. */
  readonly screenshots?: readonly string[];
}

interface ErrorCase {
  readonly page: string;
  readonly heading: RegExp;
  readonly link: { readonly label: string; readonly href: string };
}

/** A bidi-isolated name, as `isolated()` writes it into titles and labels; compared without the isolates. */
const plain = (text: string) => text.replace(/[\u2066-\u2069]/g, '');

describe('Portcullis pages: accessibility and design', () => {
  let t: TestApp;
  let browser: Browser;
  let sessions: Sessions;
  let notes: RegisteredApp;
  let selfRegistered: RegisteredApp;
  let bobGrantId: string;
  let failures = 0;

  beforeAll(async () => {
    [t, browser] = await Promise.all([bootApp({ env: { OAUTH2_DCR_ENABLED: 'true' } }), launchBrowser()]);
    const admin = await signIn(t);
    notes = await createApp(t, admin, {
      name: 'notes',
      display_name: 'Acme Notes',
      redirect_uris: ['https://notes.example.com/callback'],
      client_uri: 'https://notes.example.com',
      // Refused at once (port 1): the page must fall back to the app's initial.
      logo_uri: 'https://127.0.0.1:1/logo.png',
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const registered = await request(t.url).post('/oauth2/register').send({
      client_name: 'Sketchy Sync',
      redirect_uris: ['http://127.0.0.1:9/callback'],
      token_endpoint_auth_method: 'none',
      logo_uri: 'https://sketchy.example.net/logo.png',
      client_uri: 'https://sketchy.example.net',
    });
    if (registered.status !== 201) throw new Error(`registration failed: ${registered.status} ${registered.text}`);
    selfRegistered = { id: '', clientId: registered.body.client_id, redirectUri: 'http://127.0.0.1:9/callback' };

    const bob = await createUser(t, admin, { username: 'bob', given_name: 'Bob', family_name: 'Builder', email: 'bob@example.com' });
    const carol = await createUser(t, admin, { username: 'carol' });
    const bobCookie = await signIn(t, bob.username, bob.password);
    await authorizeAndConsent(t, notes, bobCookie, { scope: 'openid profile email offline_access' });
    const grants = await request(t.url).get('/api/v0/users/me/oauth2/authorizations').set('Cookie', bobCookie);
    bobGrantId = grants.body.items[0].grant_id;
    sessions = { admin: valueOf(admin), bob: valueOf(bobCookie), carol: valueOf(await signIn(t, carol.username, carol.password)) };
  });
  afterAll(async () => {
    for (const page of shared.values()) await page.context().close();
    await browser?.close();
    await t?.close();
  });

  /**
   * One page per variant, reused from case to case (a fresh context per case costs a new renderer and a fresh parse
   * of axe-core each time); the cookies are replaced before each case so it sees only its own session.
   */
  const shared = new Map<Variant, Page>();
  async function reuse(variant: Variant, pageCase: PageCase): Promise<{ page: Page; res: Response }> {
    let page = shared.get(variant);
    if (!page) {
      page = await (await browser.newContext({ colorScheme: variant.theme, viewport: variant.viewport })).newPage();
      shared.set(variant, page);
    }
    await page.context().clearCookies();
    const session = SESSION_FOR[pageCase.name];
    if (session) await page.context().addCookies([{ name: 'session_id', value: sessions[session], url: t.url, httpOnly: true, sameSite: 'Lax' }]);
    const res = await pageCase.open(page);
    expect({ page: pageCase.name, status: res.status() }).toEqual({ page: pageCase.name, status: pageCase.status });
    return { page, res };
  }

  const valueOf = (cookie: string) => cookie.slice(cookie.indexOf('=') + 1);

  async function newPage(variant: Variant, session?: keyof Sessions): Promise<Page> {
    const context: BrowserContext = await browser.newContext({ colorScheme: variant.theme, viewport: variant.viewport });
    if (session) await context.addCookies([{ name: 'session_id', value: sessions[session], url: t.url, httpOnly: true, sameSite: 'Lax' }]);
    return context.newPage();
  }

  async function goto(page: Page, path: string): Promise<Response> {
    const res = await page.goto(`${t.url}${path}`);
    if (!res) throw new Error(`no response for ${path}`);
    return res;
  }

  /** Submits a form by clicking `button` and answers the response of its POST, once the page has loaded. */
  async function submit(page: Page, button: ReturnType<Page['getByRole']>, path: string): Promise<Response> {
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === path),
      button.click(),
    ]);
    await page.waitForLoadState('load');
    return res;
  }

  /**
   * Ten failures for one username from this address lock it for five minutes (OWASP ASVS 2.2.1), and every further
   * try while locked stays locked. A run can outlast the five minutes, so the lock is renewed before each use.
   */
  async function ensureLockedOut(): Promise<void> {
    for (let i = 0; i <= 10; i++) if ((await postLogin(t, 'locked-out', 'wrong-password')).status === 429) return;
    throw new Error('the lockout did not engage');
  }

  async function failSignIn(page: Page, username: string): Promise<Response> {
    await goto(page, '/login');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill('not-the-password');
    return submit(page, page.getByRole('button', { name: 'Sign in' }), '/login');
  }

  const consentUrl = (app: RegisteredApp, scope: string) =>
    `/oauth2/authorize?${query(authorizeParams(app, pkce().challenge, { scope, prompt: 'consent' }))}`;

  const PAGES: PageCase[] = [
    { name: 'sign-in', kind: 'sign-in', status: 200, title: /^Sign in · Portcullis$/, open: (page) => goto(page, '/login'), screenshots: ['dark-phone'] },
    {
      name: 'sign-in after a wrong password',
      kind: 'sign-in',
      status: 401,
      title: /^Sign in · Portcullis$/,
      // A username of its own each time, so these failures never lock anything.
      open: (page) => failSignIn(page, `stranger-${++failures}`),
      screenshots: ['dark-phone', 'light-desktop'],
    },
    {
      name: 'sign-in while locked out',
      kind: 'sign-in',
      status: 429,
      title: /^Sign in · Portcullis$/,
      open: async (page) => {
        await ensureLockedOut();
        const res = await failSignIn(page, 'locked-out');
        await page.locator('fieldset[data-locked]').waitFor({ state: 'attached' });
        return res;
      },
      screenshots: ['dark-phone'],
    },
    { name: 'home, signed out', kind: 'home', status: 200, title: /^(?!Portcullis · Portcullis$).+ · Portcullis$/, open: (page) => goto(page, '/') },
    { name: 'home, signed in', kind: 'home', status: 200, title: /^(?!Portcullis · Portcullis$).+ · Portcullis$/, open: (page) => goto(page, '/') },
    {
      name: 'consent for an app the organisation added',
      kind: 'consent',
      status: 200,
      title: /^Allow Acme Notes to access your account\? · Portcullis$/,
      open: async (page) => {
        const res = await goto(page, consentUrl(notes, 'openid profile email offline_access'));
        // The logo fails to load (port 1): pages.js hides it and the initial shows.
        await page.waitForFunction("document.querySelector('img[data-logo]').hidden === true");
        return res;
      },
      screenshots: ['dark-phone', 'light-desktop', 'light-phone', 'dark-desktop'],
    },
    {
      name: 'consent for a self-registered app',
      kind: 'consent',
      status: 200,
      title: /^Allow Sketchy Sync to access your account\? · Portcullis$/,
      open: (page) => goto(page, consentUrl(selfRegistered, 'openid profile offline_access')),
      screenshots: ['dark-phone', 'light-desktop'],
    },
    { name: 'connected apps, none', kind: 'apps', status: 200, title: /^Connected apps · Portcullis$/, open: (page) => goto(page, '/account/apps') },
    {
      name: 'connected apps, one connected',
      kind: 'apps',
      status: 200,
      title: /^Connected apps · Portcullis$/,
      open: (page) => goto(page, '/account/apps'),
      screenshots: ['dark-phone', 'light-desktop'],
    },
    {
      name: 'revoke confirmation',
      kind: 'revoke',
      status: 200,
      title: /^Revoke Acme Notes\? · Portcullis$/,
      open: (page) => goto(page, `/account/apps/${bobGrantId}/revoke`),
      screenshots: ['dark-phone'],
    },
    {
      name: 'error: unknown app',
      kind: 'error: unknown app',
      status: 400,
      title: /^App not registered · Portcullis$/,
      open: (page) => goto(page, '/oauth2/authorize?client_id=nope&response_type=code'),
      screenshots: ['dark-phone'],
    },
    {
      name: 'error: return address not registered (app the organisation added)',
      kind: 'error: return address',
      status: 400,
      title: /^Return address not registered · Portcullis$/,
      open: (page) => goto(page, `/oauth2/authorize?${query(authorizeParams({ ...notes, redirectUri: 'https://elsewhere.example.com/cb' }, pkce().challenge))}`),
    },
    {
      name: 'error: return address not registered (self-registered app)',
      kind: 'error: return address',
      status: 400,
      title: /^Return address not registered · Portcullis$/,
      open: (page) => goto(page, `/oauth2/authorize?${query(authorizeParams({ ...selfRegistered, redirectUri: 'http://127.0.0.1:10/elsewhere' }, pkce().challenge))}`),
    },
    {
      name: 'error: page not found',
      kind: 'error: not found',
      status: 404,
      title: /^Page not found · Portcullis$/,
      open: (page) => goto(page, '/no-such-page'),
      screenshots: ['dark-desktop', 'light-phone'],
    },
    {
      name: 'error: app not connected',
      kind: 'error: app not connected',
      status: 404,
      title: /^App not connected · Portcullis$/,
      open: (page) => goto(page, '/account/apps/00000000-0000-4000-8000-000000000000/revoke'),
    },
    {
      name: 'error: form expired',
      kind: 'error: form expired',
      status: 403,
      title: /^Form expired · Portcullis$/,
      open: async (page) => {
        await goto(page, `/account/apps/${bobGrantId}/revoke`);
        await page.evaluate("document.querySelector('input[name=csrf_token]').value = 'a-stale-token'");
        return submit(page, page.getByRole('button', { name: 'Revoke access' }), `/account/apps/${bobGrantId}/revoke`);
      },
    },
  ];

  /** Who is signed in for each page. */
  const SESSION_FOR: Record<string, keyof Sessions | undefined> = {
    'home, signed in': 'admin',
    'consent for an app the organisation added': 'admin',
    'consent for a self-registered app': 'admin',
    'connected apps, none': 'carol',
    'connected apps, one connected': 'bob',
    'revoke confirmation': 'bob',
    'error: app not connected': 'bob',
    'error: form expired': 'bob',
  };



  it.each(VARIANTS)('in the $theme theme at $viewport.width px: axe finds no violation on any page, and each names its language and itself', async (variant) => {
    const problems: string[] = [];
    const kindsByTitle = new Map<string, Set<string>>();
    for (const pageCase of PAGES) {
      const { page } = await reuse(variant, pageCase);
      const shot = `${variant.theme}-${variant.device}`;
      if (pageCase.screenshots?.includes(shot)) {
        await page.screenshot({ path: screenshotPath(`a11y-${pageCase.name.replace(/\W+/g, '-')}-${shot}`), fullPage: true });
      }
      for (const violation of await axeViolations(page)) problems.push(`${pageCase.name}: ${violation}`);
      const lang = await page.evaluate<string>('document.documentElement.lang');
      if (lang !== 'en') problems.push(`${pageCase.name}: lang="${lang}"`);
      const title = plain(await page.title());
      if (!pageCase.title.test(title)) problems.push(`${pageCase.name}: title "${title}" does not match ${pageCase.title}`);
      kindsByTitle.set(title, (kindsByTitle.get(title) ?? new Set()).add(pageCase.kind));
    }
    for (const [title, kinds] of kindsByTitle) if (kinds.size > 1) problems.push(`different kinds of page share the title "${title}": ${[...kinds].join(', ')}`);
    expect(problems).toEqual([]);
  });

  it('axe reports a violation where there is one (the check is not vacuous)', async () => {
    const page = await newPage(LIGHT_DESKTOP);
    try {
      await goto(page, '/login');
      await page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<p style=\\'color:#999;background:#aaa\\'>faint</p>')");
      expect(await axeViolations(page)).toEqual([expect.stringMatching(/^color-contrast: .* @ main > p$/)]);
    } finally {
      await page.context().close();
    }
  });

  describe('errors are human', () => {
    const ERRORS: ErrorCase[] = [
      { page: 'error: unknown app', heading: /not registered/, link: { label: 'Go to your account', href: '/' } },
      { page: 'error: return address not registered (app the organisation added)', heading: /return address/, link: { label: 'Back to Acme Notes', href: 'https://notes.example.com' } },
      // Nobody vouched for a self-registered app's website: the way onward is home, not its client_uri.
      { page: 'error: return address not registered (self-registered app)', heading: /return address/, link: { label: 'Go to your account', href: '/' } },
      { page: 'error: page not found', heading: /no page/, link: { label: 'Go to your account', href: '/' } },
      { page: 'error: app not connected', heading: /not connected/, link: { label: 'Back to connected apps', href: '/account/apps' } },
      { page: 'error: form expired', heading: /expired/, link: { label: 'Back to connected apps', href: '/account/apps' } },
    ];

    it.each(ERRORS.map((e) => [e.page, e] as const))('%s: says what happened and what to do, links onward, shows the request id', async (_name, error) => {
      const { page, res } = await reuse(LIGHT_DESKTOP, PAGES.find((p) => p.name === error.page)!);
      {
        const card = page.locator('main section.card.error-page');
        expect(await page.locator('header.brand').count()).toBe(1);
        expect(await card.locator('h1#error-title').innerText()).toMatch(error.heading);
        expect((await card.locator('p.lead').innerText()).trim()).toMatch(/\w.*\.$/);
        expect((await card.locator('p.next').innerText()).trim()).toMatch(/\w.*\.$/);
        const link = card.locator('a.button.primary');
        expect({ label: plain(await link.innerText()).trim(), href: await link.getAttribute('href') }).toEqual(error.link);
        expect(res.headers()['x-request-id']).toMatch(/\S/);
        expect((await card.locator('p.request-id').innerText()).trim()).toBe(`Request id: ${res.headers()['x-request-id']}`);
      }
    });

    const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

    it('answers a browser asking for an unknown page with the HTML 404 in the pages’ design', async () => {
      const res = await request(t.url).get('/no-such-page').set('Accept', BROWSER_ACCEPT);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toMatch(/<header class="brand">/);
      expect(res.text).toMatch(/<main>[\s\S]*<h1 id="error-title">[\s\S]*<\/main>/);
      expect(res.text).toContain(`<code>${res.headers['x-request-id']}</code>`);
    });

    it.each([
      ['application/json', 'application/json'],
      ['no Accept header', undefined],
    ])('answers %s for an unknown page with problem+json', async (_name, accept) => {
      const req = request(t.url).get('/no-such-page');
      const res = await (accept ? req.set('Accept', accept) : req);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(res.text)).toEqual({ type: 'not_found', title: expect.any(String), status: 404, request_id: res.headers['x-request-id'] });
    });

    it.each(['/api/v1/nope', '/.well-known/nope', '/oauth2/nope'])('keeps %s JSON even for a browser', async (path) => {
      const res = await request(t.url).get(path).set('Accept', BROWSER_ACCEPT);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/(problem\+)?json/);
    });
  });

  describe('focus not obscured (WCAG 2.2 2.4.11)', () => {
    // A phone with less room (browser bars, a landscape phone): the bar then covers more of the page.
    const SHORT_PHONE: Variant = { theme: 'light', device: 'phone', viewport: { width: 390, height: 600 } };
    const cases = ['consent for an app the organisation added', 'consent for a self-registered app'].flatMap((name) =>
      [...VARIANTS.filter((v) => v.theme === 'light'), SHORT_PHONE].map((v) => [name, `${v.viewport.width}×${v.viewport.height}`, v] as const),
    );

    it.each(cases)('%s at %s: the sticky Allow/Deny bar never hides the element that has the focus', async (name, _size, variant) => {
      const { page } = await reuse(variant, PAGES.find((p) => p.name === name)!);
      {
        const hidden: string[] = [];
        for (let i = 0; i < 20; i++) {
          await page.keyboard.press('Tab');
          const focused = await page.evaluate<{ inBar: boolean; label: string; height: number; covered: number }>(
            `(() => { const a = document.activeElement, bar = document.querySelector('form.decision');
              const e = a.getBoundingClientRect(), b = bar.getBoundingClientRect();
              return { inBar: bar.contains(a), label: a.tagName.toLowerCase() + ' "' + a.textContent.trim().replace(/\\s+/g, ' ') + '"',
                height: e.height, covered: Math.max(0, Math.min(e.bottom, b.bottom) - Math.max(e.top, b.top)) }; })()`,
          );
          if (focused.inBar) break;
          if (focused.covered >= focused.height - 0.5) hidden.push(focused.label);
        }
        expect(hidden).toEqual([]);
      }
    });
  });

  describe.each(VARIANTS.filter((v) => v.device === 'desktop'))('focus and borders in the $theme theme', (variant) => {
    /** What the focused element draws, and the card behind it. */
    async function focusRing(page: Page): Promise<{ style: string; width: number; color: string; card: string }> {
      const ring = await page.evaluate<{ style: string; width: string; color: string; card: string }>(
        `(() => { const s = getComputedStyle(document.activeElement);
          return { style: s.outlineStyle, width: s.outlineWidth, color: s.outlineColor, card: getComputedStyle(document.querySelector('.card')).backgroundColor }; })()`,
      );
      return { ...ring, width: parseFloat(ring.width) };
    }

    function expectVisibleFocus(ring: { style: string; width: number; color: string; card: string }): void {
      expect(ring.style).toBe('solid');
      expect(ring.width).toBeGreaterThanOrEqual(2);
      expect(contrastRatio(ring.color, ring.card)).toBeGreaterThanOrEqual(3);
    }

    it('rings the focused Allow button, solid, ≥ 2 px, ≥ 3:1 against the card', async () => {
      const { page } = await reuse(variant, PAGES.find((p) => p.name === 'consent for an app the organisation added')!);
      {
        await tabTo(page, 'form.decision button[value=allow]');
        expectVisibleFocus(await focusRing(page));
      }
    });

    it('rings a focused link, solid, ≥ 2 px, ≥ 3:1 against the card', async () => {
      const { page } = await reuse(variant, PAGES.find((p) => p.name === 'consent for an app the organisation added')!);
      {
        await tabTo(page, '.signed-in a');
        expectVisibleFocus(await focusRing(page));
      }
    });

    it('rings the focused password field and gives its border ≥ 3:1 against the card', async () => {
      const { page } = await reuse(variant, PAGES.find((p) => p.name === 'sign-in')!);
      {
        await tabTo(page, '#password');
        const ring = await focusRing(page);
        expectVisibleFocus(ring);
        const border = await page.evaluate<string>("getComputedStyle(document.activeElement).borderTopColor");
        expect(contrastRatio(border, ring.card)).toBeGreaterThanOrEqual(3);
      }
    });

    it.each([
      ['sign-in', 'an unfocused input'],
      ['sign-in after a wrong password', 'an input marked invalid'],
    ])('%s: %s has a border ≥ 3:1 against the card and the field', async (pageName) => {
      const { page } = await reuse(variant, PAGES.find((p) => p.name === pageName)!);
      {
        // Move the focus off the username field (autofocus or the refused password), so its resting border shows.
        await page.evaluate('document.activeElement && document.activeElement.blur()');
        const colours = await page.evaluate<{ border: string; field: string; card: string }>(
          `(() => { const s = getComputedStyle(document.getElementById('username'));
            return { border: s.borderTopColor, field: s.backgroundColor, card: getComputedStyle(document.querySelector('.card')).backgroundColor }; })()`,
        );
        expect(contrastRatio(colours.border, colours.card)).toBeGreaterThanOrEqual(3);
        expect(contrastRatio(colours.border, colours.field)).toBeGreaterThanOrEqual(3);
      }
    });

    it('follows prefers-color-scheme', async () => {
      const { page } = await reuse(variant, PAGES.find((p) => p.name === 'sign-in')!);
      {
        const body = relativeLuminance(await page.evaluate<string>('getComputedStyle(document.body).backgroundColor'));
        if (variant.theme === 'dark') expect(body).toBeLessThan(0.1);
        else expect(body).toBeGreaterThan(0.8);
      }
    });
  });
});
