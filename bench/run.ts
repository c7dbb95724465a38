/**
 * `npm run bench`: builds nothing, starts the BUILT server (`npm run build` first) in its own process on a fresh
 * embedded PostgreSQL, and measures the hot protocol paths with autocannon from this process. Then it does the
 * same for panva's oidc-provider (in-memory adapter, ES256 JWT access tokens) on the routes both serve, so the
 * figures compare on this machine. Prints requests per second, latency percentiles and resident memory. Nothing
 * here asserts a target: the figures are for reading and comparing. BENCH_COMPARE=none skips oidc-provider.
 */
import autocannon from 'autocannon';
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ADMIN_PASSWORD = 'bench-admin-password';

async function main(): Promise<void> {
  const entry = join(ROOT, 'dist/src/main.js');
  if (!existsSync(entry)) throw new Error('run `npm run build` first');
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, [entry], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD, ISSUER_URL: base },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitReady(`${base}/readyz`, server);
    const admin = await signIn(base);
    const app = await post(`${base}/api/v1/oauth2/apps`, { name: 'bench', grant_types: ['client_credentials'], redirect_uris: [], scope: 'openid' }, { Cookie: admin });
    const basic = `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64')}`;
    const principal = await (await fetch(`${base}/api/v1/oauth2/principal-token`, { headers: { Cookie: admin } })).json() as { access_token: string };

    const rssBefore = rss(server.pid!);
    const results = [
      await run('discovery  GET /.well-known/openid-configuration', { url: `${base}/.well-known/openid-configuration` }),
      await run('jwks       GET /oauth2/jwks', { url: `${base}/oauth2/jwks` }),
      await run('token      POST client_credentials (Basic)', {
        url: `${base}/oauth2/token`, method: 'POST', body: 'grant_type=client_credentials',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      }),
      await run('userinfo   GET /oauth2/userinfo (bearer JWT)', { url: `${base}/oauth2/userinfo`, headers: { authorization: `Bearer ${principal.access_token}` } }),
      await run('introspect POST /oauth2/introspect', {
        url: `${base}/oauth2/introspect`, method: 'POST', body: `token=${principal.access_token}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      }),
    ];
    const rssAfter = rss(server.pid!);

    printTable(`Portcullis — ${DURATION_S} s per route, ${CONNECTIONS} connections, server and load generator on this machine`, results);
    console.log(`server RSS: ${rssBefore} MiB after start-up, ${rssAfter} MiB after the load`);
    if (process.env.BENCH_COMPARE !== 'none') await benchOidcProvider();
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The same routes on oidc-provider, configured alike (bench/oidc-provider-server.mjs). */
async function benchOidcProvider(): Promise<void> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const secret = 'bench-secret-for-oidc-provider-0123456789';
  const server = spawn(process.execPath, [join(__dirname, 'oidc-provider-server.mjs'), String(port), 'bench', secret], { stdio: ['ignore', 'ignore', 'ignore'] });
  try {
    await waitReady(`${base}/.well-known/openid-configuration`, server);
    const rssBefore = rss(server.pid!);
    const results = [
      await run('discovery  GET /.well-known/openid-configuration', { url: `${base}/.well-known/openid-configuration` }),
      await run('jwks       GET /jwks', { url: `${base}/jwks` }),
      await run('token      POST client_credentials (Basic)', {
        url: `${base}/token`, method: 'POST', body: 'grant_type=client_credentials',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`bench:${secret}`).toString('base64')}` },
      }),
    ];
    printTable(`oidc-provider ${oidcProviderVersion()} (in-memory adapter, ES256 JWT access tokens) — same load`, results);
    console.log(`server RSS: ${rssBefore} MiB after start-up, ${rss(server.pid!)} MiB after the load`);
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
}

function oidcProviderVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules/oidc-provider/package.json'), 'utf8')) as { version: string }).version;
}

function printTable(heading: string, results: { title: string; rps: number; p50: number; p99: number; errors: number }[]): void {
  console.log(`\n${heading}`);
  console.log('route'.padEnd(52), 'req/s'.padStart(9), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'non-2xx'.padStart(8));
  for (const r of results) {
    console.log(r.title.padEnd(52), r.rps.toFixed(0).padStart(9), r.p50.toFixed(1).padStart(8), r.p99.toFixed(1).padStart(8), String(r.errors).padStart(8));
  }
}

async function run(title: string, options: autocannon.Options): Promise<{ title: string; rps: number; p50: number; p99: number; errors: number }> {
  const result = await autocannon({ connections: CONNECTIONS, duration: DURATION_S, ...options });
  return { title, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.non2xx + result.errors };
}

async function signIn(base: string): Promise<string> {
  const page = await fetch(`${base}/login`);
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(await page.text())![1];
  const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const res = await fetch(`${base}/login`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ username: 'admin', password: ADMIN_PASSWORD, csrf_token: csrf, return_to: '/' }),
  });
  return res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('session_id='))!;
}

async function post(url: string, body: unknown, headers: Record<string, string>): Promise<Record<string, string>> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<Record<string, string>>;
}

function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

async function waitReady(url: string, server: ChildProcess): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < 60_000) {
    if (server.exitCode !== null) throw new Error('the server exited');
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the server did not become ready');
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
