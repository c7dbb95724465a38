import 'reflect-metadata';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { freePort } from '../bench/lib/processes';
import { createApp } from '../src/app.factory';
import { PROJECT_ROOT } from '../src/common/paths';
import { loadConfig } from '../src/config/load-config';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';

/**
 * `npm run screenshots`: the consent page as README.md shows it, at desktop and phone width, in the light and dark
 * themes — produced from the real server on a throwaway embedded PostgreSQL and Debian's Chromium
 * (/usr/bin/chromium). Writes docs/consent-*.png (or into SCREENSHOTS_DIR).
 */
/** docs/ by default; SCREENSHOTS_DIR elsewhere (CI checks that the script still runs without touching the checkout). */
const OUT = process.env.SCREENSHOTS_DIR ?? join(PROJECT_ROOT, 'docs');
const PASSWORD = 'screenshot-admin-password';

async function main(): Promise<void> {
  const db = await startEmbeddedPostgres({ dir: mkdtempSync(join(tmpdir(), 'portcullis-shots-')), database: 'portcullis', ephemeral: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({ LOG_LEVEL: 'silent', PORT: String(port), ISSUER_URL: url, BOOTSTRAP_ADMIN_PASSWORD: PASSWORD, OAUTH2_DCR_ENABLED: 'true' });
  const app = await createApp({ config, databaseUrl: db.url });
  await app.listen(port, '127.0.0.1');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const admin = await signIn(url, 'admin', PASSWORD);
    const alice = { username: 'alice', password: 'alice-screenshot-pw', given_name: 'Alice', family_name: 'Liddell', email: 'alice@example.com' };
    await api(url, admin, 'POST', '/api/v1/users', alice);
    const notes = await api(url, admin, 'POST', '/api/v1/oauth2/apps', {
      name: 'notes', display_name: 'Acme Notes', redirect_uris: ['https://notes.example.com/callback'],
      grant_types: ['authorization_code', 'refresh_token'], client_uri: 'https://notes.example.com',
    });
    const agentRedirect = 'http://127.0.0.1:33418/callback';
    const agent = await (await fetch(`${url}/oauth2/register`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_name: 'Helpful Agent', redirect_uris: [agentRedirect], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], client_uri: 'https://helpful-agent.example' }),
    })).json() as Record<string, unknown>;
    const cookie = await signIn(url, alice.username, alice.password);
    const authorizeUrl = (clientId: unknown, redirectUri: string) => `${url}/oauth2/authorize?${new URLSearchParams({
      response_type: 'code', client_id: clientId as string, redirect_uri: redirectUri,
      scope: 'openid profile email offline_access', state: 'screenshot', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
    })}`;
    mkdirSync(OUT, { recursive: true });
    const shots = [
      ['desktop-light', { width: 1280, height: 860 }, 'light', authorizeUrl(notes.client_id, 'https://notes.example.com/callback')],
      ['desktop-dark', { width: 1280, height: 860 }, 'dark', authorizeUrl(notes.client_id, 'https://notes.example.com/callback')],
      ['phone-light', { width: 390, height: 844 }, 'light', authorizeUrl(notes.client_id, 'https://notes.example.com/callback')],
      ['self-registered-desktop-light', { width: 1280, height: 1000 }, 'light', authorizeUrl(agent.client_id, agentRedirect)],
      ['self-registered-phone-dark', { width: 390, height: 844 }, 'dark', authorizeUrl(agent.client_id, agentRedirect)],
    ] as const;
    for (const [name, viewport, colorScheme, authorize] of shots) {
      {
        const context = await browser.newContext({ viewport, colorScheme, locale: 'en-GB', timezoneId: 'Europe/London' });
        await context.addCookies([{ name: 'session_id', value: cookie, url }]);
        const page = await context.newPage();
        await page.goto(authorize);
        await page.getByRole('button', { name: 'Allow' }).waitFor();
        const file = join(OUT, `consent-${name}.png`);
        await page.screenshot({ path: file, fullPage: name.includes('desktop') });
        process.stdout.write(`wrote ${file}\n`);
        await context.close();
      }
    }
  } finally {
    await browser.close();
    await app.close();
    await db.stop();
  }
}

/** Signs in through the real form; answers the session cookie's value. */
async function signIn(url: string, username: string, password: string): Promise<string> {
  const form = await fetch(`${url}/login`);
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(await form.text())![1];
  const loginCookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const res = await fetch(`${url}/login`, {
    method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: loginCookie },
    body: new URLSearchParams({ username, password, csrf_token: csrf, return_to: '/' }),
  });
  const session = res.headers.getSetCookie().find((c) => c.startsWith('session_id='));
  if (!session) throw new Error(`sign-in of ${username} failed: ${res.status}`);
  return session.split(';')[0].slice('session_id='.length);
}

async function api(url: string, session: string, method: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${path}`, { method, headers: { 'Content-Type': 'application/json', Cookie: `session_id=${session}` }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

main().catch((e: unknown) => {
  process.stderr.write(`screenshots failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
