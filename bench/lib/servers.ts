/**
 * Starting the three servers the bench compares, each pinned as its placement says, and setting each one up to the
 * same state: one confidential client, a signed-in browser session whose consent is remembered, and an access token
 * for userinfo and introspection.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as EmbeddedPostgresModule from '../../src/database/embedded-postgres';
import { basicAuth, CookieJar, expectStatus, FORM, postJson } from './http';
import { AuthServer, authorizeUrl, browserAuthorize, discover, exchangeCode, mintCode, pkce, SCOPE } from './oauth';
import { PgStats } from './pg-stats';
import { freePort, makeTempDir, onCleanUp, pinTree, removeTempDir, startChild, stopChild, tail, waitReady } from './processes';

export const ROOT = join(__dirname, '..', '..');

/** Where each process runs. Undefined cpus: not pinned (one core only, or the smoke run). */
export interface Placement {
  readonly name: 'split' | 'one-core' | 'unpinned';
  /** Every Node server under test (Portcullis, oidc-provider, the ping). */
  readonly serverCpu?: number;
  /** The PostgreSQL postmaster and all its backends. */
  readonly postgresCpu?: number;
  /** This process, the load generator. */
  readonly benchCpu?: number;
}

/** The same lifetimes on both servers. The code lives long enough for pre-minted codes to wait their window. */
export const LIFETIMES = { accessTokenTtl: 900, refreshTokenTtl: 30 * 86400, authCodeTtl: 600 } as const;

const REDIRECT_URI = 'http://127.0.0.1:9/callback'; // loopback, never contacted: the bench reads the Location
export const ADMIN_PASSWORD = 'bench-admin-password';

export interface Started<T> {
  readonly server: T;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface PortcullisServer extends AuthServer {
  /** pg_stat_statements of its database. */
  readonly stats: PgStats;
}

/**
 * The built production server (NODE_ENV=production, info logging to /dev/null) on an embedded PostgreSQL this
 * process starts itself, with pg_stat_statements loaded.
 */
export async function startPortcullis(placement: Placement): Promise<Started<PortcullisServer>> {
  const root = makeTempDir('portcullis-bench-');
  const db = await startPostgres(root, placement);
  const stats = await PgStats.connect(db.adminUrl, 'portcullis');

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER_URL: base,
    DATA_DIR: join(root, 'data'),
    DATABASE_URL: db.url,
    KEY_ENCRYPTION_SECRET: randomBytes(24).toString('base64url'),
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
    ACCESS_TOKEN_TTL: String(LIFETIMES.accessTokenTtl),
    REFRESH_TOKEN_TTL: String(LIFETIMES.refreshTokenTtl),
    AUTH_CODE_TTL: String(LIFETIMES.authCodeTtl),
    OAUTH2_DCR_ENABLED: 'true',
    OAUTH2_DCR_RATE_LIMIT: '0', // the registration workload registers thousands of clients from one address
    OAUTH2_DCR_REUSE_WINDOW: '0', // …with the same metadata: each must be a new client, as with oidc-provider
  };
  delete env.CONFIG_FILE;
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the server (the "what the profile showed" of BENCHMARKS.md).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  if (process.env.BENCH_PRELOAD) profile.push('-r', process.env.BENCH_PRELOAD);
  const child = startChild(process.execPath, [...profile, join(ROOT, 'dist/src/main.js')], { cpu: placement.serverCpu, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr = tail(child.stderr);
  const stop = once(async () => {
    await stopChild(child);
    await stats.close();
    await db.stop();
    removeTempDir(root);
  });
  onCleanUp(stop); // runs before the database's own clean-up: the server goes first
  try {
    await waitReady(`${base}/readyz`, child, 'Portcullis');
    const server = await setUpPortcullis(base, child.pid!, stats);
    return { server, pid: child.pid!, stop };
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\nPortcullis stderr:\n${stderr()}`);
  }
}

async function startPostgres(root: string, placement: Placement): Promise<EmbeddedPostgresModule.EmbeddedDatabase> {
  const { startEmbeddedPostgres } = require(join(ROOT, 'dist/src/database/embedded-postgres.js')) as typeof EmbeddedPostgresModule;
  const dir = join(root, 'postgres');
  const db = await startEmbeddedPostgres({
    dir,
    database: 'portcullis',
    ephemeral: true,
    settings: {
      shared_preload_libraries: 'pg_stat_statements',
      'pg_stat_statements.track': 'all', // statements inside functions and triggers too (counted apart)
      'pg_stat_statements.max': '10000',
    },
  });
  onCleanUp(() => db.stop());
  // Pinned right after start: the backends it forks from now on inherit the postmaster's CPU.
  const postmaster = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  if (placement.postgresCpu !== undefined) pinTree(postmaster, placement.postgresCpu);
  return db;
}

/** Signs the admin in, registers the client as an admin would, and consents once in the browser flow. */
async function setUpPortcullis(base: string, pid: number, stats: PgStats): Promise<PortcullisServer> {
  const endpoints = await discover(base);
  const jar = new CookieJar();
  await signIn(base, jar);
  const app = await postJson<{ client_id: string; client_secret: string }>(`${base}/api/v1/oauth2/apps`, {
    name: 'bench',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: SCOPE,
  }, { cookie: jar.header() });
  const { verifier, challenge } = pkce();
  const url = authorizeUrl(endpoints.authorize, app.client_id, REDIRECT_URI, challenge);
  const basic = basicAuth(app.client_id, app.client_secret);
  await browserAuthorize(url, jar, REDIRECT_URI); // the first time: the consent page, Allow
  const partial = { name: 'portcullis' as const, pid, base, endpoints, basic, redirectUri: REDIRECT_URI, cookie: jar.header(), authorizeUrl: url, verifier };
  const tokens = await exchangeCode(partial, basic, await mintCode(partial));
  return { ...partial, userinfoToken: tokens.access_token, introspectBasic: basic, stats };
}

/** Signs in through the sign-in form (the bootstrap admin unless told otherwise); the session lands in `jar`. */
export async function signIn(base: string, jar: CookieJar, username = 'admin', password = ADMIN_PASSWORD): Promise<void> {
  const page = await fetch(`${base}/login`);
  jar.take(page);
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(await page.text())?.[1];
  if (!csrf) throw new Error('the sign-in page has no csrf_token');
  const res = await fetch(`${base}/login`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': FORM, cookie: jar.header() },
    body: new URLSearchParams({ username, password, csrf_token: csrf, return_to: '/' }),
  });
  await expectStatus(res, [302, 303], 'sign-in');
  jar.take(res);
  if (!jar.header().includes('session_id=')) throw new Error('sign-in set no session_id cookie');
}

/** bench/oidc-provider-server.mjs, configured alike (see its header). */
export async function startOidcProvider(placement: Placement): Promise<Started<AuthServer>> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const secret = randomBytes(24).toString('base64url');
  const config = { port, clientId: 'bench', opaqueClientId: 'bench-opaque', clientSecret: secret, redirectUri: REDIRECT_URI, ...LIFETIMES };
  const child = startChild(process.execPath, [join(ROOT, 'bench/oidc-provider-server.mjs'), JSON.stringify(config)], {
    cpu: placement.serverCpu, env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr = tail(child.stderr);
  const stop = () => stopChild(child);
  try {
    await waitReady(`${base}/.well-known/openid-configuration`, child, 'oidc-provider');
    const endpoints = await discover(base);
    const jar = new CookieJar();
    const { verifier, challenge } = pkce();
    const url = authorizeUrl(endpoints.authorize, config.clientId, REDIRECT_URI, challenge);
    await browserAuthorize(url, jar, REDIRECT_URI); // sign-in and consent interactions, once
    // The opaque-token client: its own consent in the same session, then one code for the userinfo token.
    const opaqueBasic = basicAuth(config.opaqueClientId, secret);
    const opaqueCode = await browserAuthorize(authorizeUrl(endpoints.authorize, config.opaqueClientId, REDIRECT_URI, challenge), jar, REDIRECT_URI);
    const partial = { name: 'oidc-provider' as const, pid: child.pid!, base, endpoints, redirectUri: REDIRECT_URI, verifier };
    const opaque = await exchangeCode(partial, opaqueBasic, opaqueCode);
    const server: AuthServer = {
      ...partial, basic: basicAuth(config.clientId, secret), cookie: jar.header(), authorizeUrl: url,
      userinfoToken: opaque.access_token, introspectBasic: opaqueBasic,
    };
    await mintCode(server); // the remembered consent holds: straight back with a code
    return { server, pid: child.pid!, stop };
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\noidc-provider stderr:\n${stderr()}`);
  }
}

export interface PingServer {
  readonly name: 'nest-ping';
  readonly url: string;
}

/** bench/nest-ping.js: a bare NestJS app with one JSON route. */
export async function startPing(placement: Placement): Promise<Started<PingServer>> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/ping`;
  const child = startChild(process.execPath, [join(ROOT, 'bench/nest-ping.js'), String(port)], {
    cpu: placement.serverCpu, env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr = tail(child.stderr);
  try {
    await waitReady(url, child, 'the NestJS ping');
  } catch (e) {
    await stopChild(child);
    throw new Error(`${(e as Error).message}\n${stderr()}`);
  }
  return { server: { name: 'nest-ping', url }, pid: child.pid!, stop: () => stopChild(child) };
}

/** A clean-up that may be called from several places but runs once. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
