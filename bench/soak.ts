/**
 * `npm run soak`: three built production servers on one embedded PostgreSQL, behind a client-side balancer that
 * follows /readyz (bench/lib/balancer.ts), under a mixed load for a few minutes. Each virtual user loops through a
 * whole client's life — authorize with remembered consent, code exchange, userinfo, introspection, two refreshes,
 * revocation of the access and the refresh token, a refresh with the revoked token (refused) — and now and then
 * replays a spent code (refused) or registers a new client (RFC 7591) and takes it through the consent page. Every
 * request of a flow goes to whichever instance the balancer picks, so flows cross instances.
 *
 * At 30 % of the run one instance is restarted (SIGTERM: it drains and exits, then starts again); at 55 %
 * PostgreSQL is stopped (a fast shutdown, as in a failover) and started again after `--outage` seconds. Then it
 * checks what must hold: no 5xx and no failed connection outside the outage, no unexpected answer outside it, every
 * instance's exit 0 on SIGTERM, every revoked access token refused by every instance, every revoked refresh token
 * refused, and each instance's in-memory deny set equal to the table (a revocation made while its listener was
 * down is not missed). It prints requests served, answers by status per window, the deny-list and cache sizes,
 * the table sizes, and each instance's memory at the start and the end.
 *
 * Loopback only; it stops by itself. `--short` (CI) runs 45 s with a 3 s outage: correctness, not figures.
 * Flags: --short, --seconds=N (240), --users=N (12), --outage=N (10), --no-build.
 */
import { spawnSync } from 'node:child_process';
import { Client } from 'pg';
import { Balancer } from './lib/balancer';
import { Cluster, Instance, RuntimeState, startCluster } from './lib/cluster';
import { basicAuth, CookieJar, codeOf, FORM, postJson } from './lib/http';
import { consentBody, formAction, pkce, SCOPE } from './lib/oauth';
import { cleanUp, installExitHandlers, wasInterrupted } from './lib/processes';
import { ROOT, signIn } from './lib/servers';
import { Answer, countBy, isServerFailure, Outcome, outcomes, Tally, Window } from './lib/tally';

interface Options {
  readonly short: boolean;
  readonly build: boolean;
  readonly seconds: number;
  readonly users: number;
  readonly outageSeconds: number;
}

const REDIRECT_URI = 'http://127.0.0.1:9/callback'; // loopback, never contacted: the soak reads the Location
const REQUEST_TIMEOUT_MS = 30_000; // a request that takes longer counts as hung
const PEOPLE = 3; // signed-in users the virtual users share

/** Paths of the protocol endpoints (from discovery), sent to whichever instance the balancer picks. */
interface Paths {
  readonly authorize: string;
  readonly token: string;
  readonly userinfo: string;
  readonly introspect: string;
  readonly revoke: string;
  readonly register: string;
}

interface Soak {
  readonly balancer: Balancer;
  readonly tally: Tally;
  readonly paths: Paths;
  readonly clientId: string;
  readonly basic: string;
  readonly cookies: readonly string[];
  readonly revokedAccess: string[];
  readonly revokedRefresh: string[];
  running: boolean;
}

interface Reply {
  readonly res: Response;
  readonly text: string;
  readonly instance: Instance;
}

interface Call {
  readonly method?: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly instance?: Instance;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  installExitHandlers();
  if (options.build) build();
  console.log(`soak: 3 instances, ${options.users} virtual users, ${options.seconds} s, PostgreSQL away for ${options.outageSeconds} s`);

  const cluster = await startCluster(3, 900);
  const balancer = new Balancer(cluster.instances);
  balancer.start();
  const soak = await setUp(cluster, balancer);
  const run = await drive(soak, cluster, options);
  soak.running = false;
  await run.users;
  balancer.stop();

  const tables = await tableSizes(cluster);
  const { failures, states } = await check(soak, cluster, run);
  await stopAll(cluster, failures);
  await cleanUp();

  report(soak, run, tables, states, options);
  if (failures.length) {
    console.log(`\nsoak FAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exitCode = 1;
  } else {
    console.log('\nsoak passed: no 5xx or failed connection outside the outage, every promise held after it');
  }
}

function parseOptions(args: string[]): Options {
  const known = ['short', 'no-build', 'seconds', 'users', 'outage'];
  for (const arg of args) {
    if (!known.includes(arg.replace(/^--/, '').split('=')[0])) throw new Error(`unknown argument ${arg} (known: ${known.map((k) => `--${k}`).join(' ')})`);
  }
  const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const short = args.includes('--short');
  const number = (name: string, fallback: number) => {
    const n = Number(value(name) ?? fallback);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  const options = {
    short,
    build: !args.includes('--no-build'),
    seconds: number('seconds', short ? 45 : 240),
    users: number('users', short ? 6 : 12),
    outageSeconds: number('outage', short ? 3 : 10),
  };
  if (options.outageSeconds > options.seconds / 4) throw new Error('--outage must be at most a quarter of --seconds');
  return options;
}

function build(): void {
  console.log('npm run build');
  const built = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('`npm run build` failed (see above)');
}

/** The admin registers the client and a few people; each signs in on some instance and consents once. */
async function setUp(cluster: Cluster, balancer: Balancer): Promise<Soak> {
  const [a] = cluster.instances;
  const discovery = (await (await fetch(`${a.url}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  const path = (field: string) => new URL(discovery[field]).pathname;
  const paths: Paths = {
    authorize: path('authorization_endpoint'), token: path('token_endpoint'), userinfo: path('userinfo_endpoint'),
    introspect: path('introspection_endpoint'), revoke: path('revocation_endpoint'), register: path('registration_endpoint'),
  };
  const admin = new CookieJar();
  await signIn(a.url, admin);
  const app = await postJson<{ client_id: string; client_secret: string }>(`${a.url}/api/v1/oauth2/apps`, {
    name: 'soak', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'client_secret_basic', scope: SCOPE,
  }, { cookie: admin.header() });

  const soak: Soak = {
    balancer, tally: new Tally(), paths, clientId: app.client_id, basic: basicAuth(app.client_id, app.client_secret),
    cookies: [], revokedAccess: [], revokedRefresh: [], running: true,
  };
  for (let i = 0; i < PEOPLE; i++) {
    const username = `soak-${i}`;
    const password = `soak-password-${i}-${app.client_id.slice(0, 8)}`;
    await postJson(`${a.url}/api/v1/users`, { username, password, role: 'user' }, { cookie: admin.header() });
    const jar = new CookieJar();
    await signIn(cluster.instances[i % cluster.instances.length].url, jar, username, password);
    const { challenge } = pkce();
    const consented = await consent(soak, jar.header(), app.client_id, challenge);
    if (!consented) throw new Error(`setting up ${username}: the first authorization did not come back with a code`);
    (soak.cookies as string[]).push(jar.header());
  }
  soak.tally.answers.length = 0; // the set-up is not part of the figures
  return soak;
}

interface Run {
  readonly users: Promise<void>;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly restart: Window & { readonly instance: string };
  readonly outage: Window & { readonly downFor: number };
  readonly snapshots: Snapshot[];
}

interface Snapshot {
  readonly label: string;
  readonly instances: { readonly name: string; readonly pid: number; readonly rss: number; readonly state: RuntimeState }[];
}

/** The load, and the timeline of faults across it. */
async function drive(soak: Soak, cluster: Cluster, options: Options): Promise<Run> {
  const [, b] = cluster.instances;
  const startedAt = Date.now();
  const at = (fraction: number) => sleep(startedAt + fraction * options.seconds * 1000 - Date.now());
  const users = Promise.all(Array.from({ length: options.users }, (_, i) => virtualUser(soak, i))).then(() => undefined);
  const snapshots: Snapshot[] = [];
  const snap = async (label: string) => snapshots.push(await snapshot(cluster, label));

  await at(0.15);
  await snap('warm');
  await at(0.3);
  await snap(`before ${b.name} restarts`);
  console.log(`soak: restarting ${b.name} (SIGTERM, drain, start again)`);
  const restartFrom = Date.now();
  await b.stop();
  await b.start();
  const restart = { instance: b.name, from: restartFrom, to: Date.now() };
  console.log(`soak: ${b.name} is back after ${((restart.to - restart.from) / 1000).toFixed(1)} s`);

  await at(0.5);
  await snap(`${b.name} restarted, before the outage`);
  await at(0.55);
  console.log('soak: stopping PostgreSQL');
  const outageFrom = Date.now();
  await cluster.postgres.stop();
  await sleep(options.outageSeconds * 1000);
  await cluster.postgres.start();
  const downFor = Date.now() - outageFrom;
  await allReady(cluster.instances);
  const outage = { from: outageFrom, to: Date.now(), downFor };
  console.log(`soak: PostgreSQL was down ${(downFor / 1000).toFixed(1)} s; every instance ready ${((outage.to - outageFrom - downFor) / 1000).toFixed(1)} s after it came back`);

  await at(1);
  await snap('end');
  return { users, startedAt, endedAt: Date.now(), restart, outage, snapshots };
}

async function snapshot(cluster: Cluster, label: string): Promise<Snapshot> {
  const instances = await Promise.all(cluster.instances.map(async (i) => ({ name: i.name, pid: i.pid, rss: i.rss(), state: await i.state() })));
  return { label, instances };
}

async function allReady(instances: readonly Instance[]): Promise<void> {
  const until = Date.now() + 120_000;
  while (Date.now() < until) {
    const ready = await Promise.all(instances.map((i) => fetch(`${i.url}/readyz`).then((r) => r.status === 200, () => false)));
    if (ready.every(Boolean)) return;
    await sleep(100);
  }
  throw new Error('the instances were not all ready within 120 s of PostgreSQL coming back');
}

/** Loops through client lives until the run ends; a failed step ends that life, and the next one begins. */
async function virtualUser(soak: Soak, index: number): Promise<void> {
  const cookie = soak.cookies[index % soak.cookies.length];
  for (let n = 0; soak.running; n++) {
    const failed = await clientLife(soak, cookie, index + n).then(() => undefined, (e: unknown) => e);
    if (failed instanceof Unexpected) await sleep(failed.backoffMs);
    else if (failed) throw failed;
  }
}

/** Thrown by a step whose answer was not the expected one (already counted); the life ends there. */
class Unexpected extends Error {
  constructor(readonly backoffMs: number) {
    super('unexpected answer');
  }
}

async function clientLife(soak: Soak, cookie: string, n: number): Promise<void> {
  const { verifier, challenge } = pkce();
  const code = await authorize(soak, cookie, soak.clientId, challenge);
  const codeForm = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier };
  let tokens = await tokenRequest(soak, 'code exchange', codeForm, soak.basic);
  await bearer(soak, 'userinfo', tokens.access_token);
  await step(soak, 'introspection', form(soak.paths.introspect, { token: tokens.access_token }, soak.basic),
    (r) => r.res.status === 200 && (JSON.parse(r.text) as { active?: boolean }).active === true);
  for (let i = 0; i < 2; i++) {
    tokens = await tokenRequest(soak, 'refresh', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, soak.basic);
  }
  await bearer(soak, 'userinfo', tokens.access_token);
  if (n % 4 === 0) {
    await step(soak, 'spent code replayed', form(soak.paths.token, codeForm, soak.basic), (r) => r.res.status === 400 && r.text.includes('invalid_grant'));
  }
  await step(soak, 'revocation', form(soak.paths.revoke, { token: tokens.access_token, token_type_hint: 'access_token' }, soak.basic), (r) => r.res.status === 200);
  soak.revokedAccess.push(tokens.access_token);
  await step(soak, 'revocation', form(soak.paths.revoke, { token: tokens.refresh_token!, token_type_hint: 'refresh_token' }, soak.basic), (r) => r.res.status === 200);
  soak.revokedRefresh.push(tokens.refresh_token!);
  await step(soak, 'revoked refresh refused', form(soak.paths.token, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, soak.basic),
    (r) => r.res.status === 400 && r.text.includes('invalid_grant'));
  if (n % 6 === 0) await newClient(soak, cookie);
}

/** A client registers itself (RFC 7591) and is taken through the consent page and the code exchange. */
async function newClient(soak: Soak, cookie: string): Promise<void> {
  const registered = await step(soak, 'registration', {
    method: 'POST', path: soak.paths.register, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'soak agent', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' }),
  }, (r) => r.res.status === 201);
  const clientId = (JSON.parse(registered.text) as { client_id: string }).client_id;
  const { verifier, challenge } = pkce();
  const code = await consent(soak, cookie, clientId, challenge);
  if (!code) throw new Unexpected(100);
  await tokenRequest(soak, 'code exchange (public)', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier, client_id: clientId });
}

/** Authorize for a client not yet approved: the consent page on one instance, Allow posted to another. */
async function consent(soak: Soak, cookie: string, clientId: string, challenge: string): Promise<string | undefined> {
  const page = await step(soak, 'consent page', { path: authorizePath(soak, clientId, challenge), headers: { cookie } },
    (r) => (r.res.status === 200 && r.text.includes('name="decision"')) || codeOf(r.res.headers.get('location')) !== undefined);
  const direct = codeOf(page.res.headers.get('location'));
  if (direct) return direct; // consented before
  const action = new URL(formAction(page.text, `${page.instance.url}${soak.paths.authorize}`));
  const allowed = await step(soak, 'consent allowed', {
    method: 'POST', path: action.pathname + action.search, headers: { cookie, 'content-type': FORM }, body: consentBody(page.text),
  }, (r) => codeOf(r.res.headers.get('location')) !== undefined);
  return codeOf(allowed.res.headers.get('location'));
}

async function authorize(soak: Soak, cookie: string, clientId: string, challenge: string): Promise<string> {
  const reply = await step(soak, 'authorize', { path: authorizePath(soak, clientId, challenge), headers: { cookie } },
    (r) => [302, 303].includes(r.res.status) && codeOf(r.res.headers.get('location')) !== undefined);
  return codeOf(reply.res.headers.get('location'))!;
}

function authorizePath(soak: Soak, clientId: string, challenge: string): string {
  const query = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URI, scope: SCOPE, state: 'soak',
    code_challenge: challenge, code_challenge_method: 'S256',
  });
  return `${soak.paths.authorize}?${query}`;
}

interface Tokens {
  readonly access_token: string;
  readonly refresh_token?: string;
}

async function tokenRequest(soak: Soak, name: string, fields: Record<string, string>, basic?: string): Promise<Tokens> {
  const reply = await step(soak, name, form(soak.paths.token, fields, basic), (r) => r.res.status === 200);
  return JSON.parse(reply.text) as Tokens;
}

function bearer(soak: Soak, name: string, token: string): Promise<Reply> {
  return step(soak, name, { path: soak.paths.userinfo, headers: { authorization: `Bearer ${token}` } }, (r) => r.res.status === 200);
}

function form(path: string, fields: Record<string, string>, basic?: string): Call {
  return { method: 'POST', path, headers: { 'content-type': FORM, ...(basic ? { authorization: basic } : {}) }, body: new URLSearchParams(fields).toString() };
}

/** One request through the balancer, counted; anything but the expected answer ends the client's life. */
async function step(soak: Soak, name: string, call: Call, expected: (reply: Reply) => boolean): Promise<Reply> {
  const reply = await send(soak, name, call, expected);
  if (!reply) throw new Unexpected(200);
  return reply;
}

async function send(soak: Soak, name: string, call: Call, expected: (reply: Reply) => boolean): Promise<Reply | undefined> {
  const instance = call.instance ?? soak.balancer.pick();
  const start = Date.now();
  let outcome: Outcome;
  try {
    const res = await fetch(`${instance.url}${call.path}`, {
      method: call.method ?? 'GET', headers: call.headers, body: call.body, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const reply = { res, text: await res.text(), instance };
    let ok = false;
    try {
      ok = expected(reply);
    } catch {
      ok = false; // a body that does not parse is an unexpected answer, not a crash of the soak
    }
    const retryAfter = res.status === 503 ? res.headers.has('retry-after') : undefined;
    soak.tally.add({ step: name, instance: instance.name, outcome: res.status, expected: ok, start, end: Date.now(), retryAfter });
    if (ok) return reply;
    if (res.status === 503) throw new Unexpected(Math.min(1000, 1000 * Number(res.headers.get('retry-after') ?? 1)));
    return undefined;
  } catch (e) {
    if (e instanceof Unexpected) throw e;
    outcome = (e as Error).name === 'TimeoutError' ? 'timeout' : 'network';
    soak.tally.add({ step: name, instance: instance.name, outcome, expected: false, start, end: Date.now() });
    return undefined;
  }
}

/** What must hold once the load has stopped and every instance is up. */
async function check(soak: Soak, cluster: Cluster, run: Run): Promise<{ failures: string[]; states: Map<string, RuntimeState> }> {
  const failures: string[] = [];
  const { before, during, after } = soak.tally.split(run.outage);
  const outside = [...before, ...after];
  const broken = outside.filter((a) => isServerFailure(a.outcome));
  if (broken.length) failures.push(`${broken.length} 5xx or failed connections outside the outage: ${describe(broken)}`);
  const unexpected = outside.filter((a) => !a.expected && !isServerFailure(a.outcome));
  if (unexpected.length) failures.push(`${unexpected.length} unexpected answers outside the outage: ${describe(unexpected)}`);
  if (!after.some((a) => a.expected)) failures.push('nothing was served after PostgreSQL came back');
  if (!during.some((a) => a.outcome === 503)) failures.push('no request met the outage: it proved nothing');
  const notUnavailable = during.filter((a) => isServerFailure(a.outcome) && a.outcome !== 503);
  if (notUnavailable.length) failures.push(`${notUnavailable.length} answers during the outage were not 503: ${describe(notUnavailable)}`);
  const errorLines = cluster.instances.flatMap((i) => i.errors.map((line) => `${i.name}: ${line.slice(0, 1500)}`));
  if (errorLines.length) console.log(`\nerror log lines:\n${errorLines.slice(0, 10).join('\n')}`);
  const hung = soak.tally.answers.filter((a) => a.outcome === 'timeout');
  if (hung.length) failures.push(`${hung.length} requests hung past ${REQUEST_TIMEOUT_MS / 1000} s`);

  const restarted = cluster.instances.find((i) => i.name === run.restart.instance)!;
  const stopped = restarted.processes[0];
  if (stopped.exitCode !== 0) failures.push(`${restarted.name} exited with ${stopped.exitCode ?? stopped.signal} on SIGTERM, not 0`);
  for (const instance of cluster.instances) if (!instance.running) failures.push(`${instance.name} is not running at the end`);

  // Revoked tokens: the first ones (revoked before the restart and the outage) and the last ones, on every instance.
  const sample = <T>(items: readonly T[], n: number) => (items.length <= 2 * n ? [...items] : [...items.slice(0, n), ...items.slice(-n)]);
  for (const instance of cluster.instances) {
    for (const token of sample(soak.revokedAccess, 25)) {
      const res = await fetch(`${instance.url}${soak.paths.userinfo}`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 401) failures.push(`${instance.name} accepted a revoked access token (userinfo ${res.status})`);
    }
    for (const token of sample(soak.revokedRefresh, 5)) {
      const res = await fetch(`${instance.url}${soak.paths.token}`, { method: 'POST', headers: { 'content-type': FORM, authorization: soak.basic }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }) });
      if (res.status !== 400) failures.push(`${instance.name} answered ${res.status} to a revoked refresh token`);
    }
  }

  // Every instance holds exactly the denied tokens of the table, the restarted one and the ones that lived
  // through the outage alike. Nothing expires during a soak (access tokens live 15 min by default). The probes
  // above may have denied more (a revoked refresh token presented again), so this comes after them.
  const denied = await query<{ n: string }>(cluster, 'SELECT count(*) AS n FROM revoked_access_tokens WHERE expires_at > now()');
  const rows = Number(denied[0].n);
  const states = new Map<string, RuntimeState>();
  for (const instance of cluster.instances) {
    const state = await instance.state();
    states.set(instance.name, state);
    if (state.deniedTokens !== rows) failures.push(`${instance.name} holds ${state.deniedTokens} denied tokens, the table ${rows}`);
    if (!state.listening) failures.push(`${instance.name} is not listening for notifications at the end`);
  }
  return { failures, states };
}

function describe(answers: readonly Answer[]): string {
  return [...countBy(answers, (a) => `${a.step} ${a.outcome} on ${a.instance}`)].slice(0, 8).map(([k, n]) => `${k} ×${n}`).join(', ');
}

async function tableSizes(cluster: Cluster): Promise<Record<string, number>> {
  const tables = ['revoked_access_tokens', 'refresh_tokens', 'authorization_codes', 'grants', 'apps', 'browser_sessions'];
  const sizes: Record<string, number> = {};
  for (const table of tables) sizes[table] = Number((await query<{ n: string }>(cluster, `SELECT count(*) AS n FROM ${table}`))[0].n);
  return sizes;
}

async function query<T>(cluster: Cluster, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: cluster.postgres.url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** SIGTERM to every instance: each must drain and exit 0. */
async function stopAll(cluster: Cluster, failures: string[]): Promise<void> {
  await Promise.all(cluster.instances.map((i) => i.stop()));
  for (const instance of cluster.instances) {
    const last = instance.processes.at(-1)!;
    if (last.exitCode !== 0) failures.push(`${instance.name} exited with ${last.exitCode ?? last.signal} on SIGTERM at the end, not 0:\n${instance.recentErrors()}`);
  }
}

function report(soak: Soak, run: Run, tables: Record<string, number>, states: ReadonlyMap<string, RuntimeState>, options: Options): void {
  const { answers } = soak.tally;
  const seconds = (run.endedAt - run.startedAt) / 1000;
  const served = answers.filter((a) => a.expected).length;
  console.log(`\nrequests: ${answers.length} in ${seconds.toFixed(0)} s (${(answers.length / seconds).toFixed(0)}/s), ${served} answered as expected`);
  console.log(`  by instance: ${[...countBy(answers, (a) => a.instance)].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  console.log(`  by step: ${[...countBy(answers, (a) => a.step)].map(([k, n]) => `${k} ${n}`).join(', ')}`);

  const { before, during, after } = soak.tally.split(run.outage);
  const restarting = before.filter((a) => a.end >= run.restart.from && a.start <= run.restart.to);
  console.log('\nanswers by status');
  console.log(`  before the outage:          ${outcomes(before)}`);
  console.log(`    of which while ${run.restart.instance} restarted (${((run.restart.to - run.restart.from) / 1000).toFixed(1)} s): ${outcomes(restarting)}`);
  console.log(`  overlapping the outage (${((run.outage.to - run.outage.from) / 1000).toFixed(1)} s, PostgreSQL down ${(run.outage.downFor / 1000).toFixed(1)} s): ${outcomes(during)}`);
  const unavailable = during.filter((a) => a.outcome === 503);
  console.log(`    503s with Retry-After: ${unavailable.filter((a) => a.retryAfter).length} of ${unavailable.length}`);
  console.log(`  after recovery:             ${outcomes(after)}`);
  const refused = answers.filter((a) => !a.expected && typeof a.outcome === 'number' && a.outcome < 500);
  if (refused.length) console.log(`  unexpected 4xx: ${describe(refused)}`);

  console.log('\nin memory once the load stopped (each instance)');
  for (const [name, state] of states) {
    const caches = Object.entries(state.cachedRows).map(([t, n]) => `${t} ${n}`).join(', ');
    console.log(`  ${name}: denied tokens ${state.deniedTokens}, verified tokens remembered ${state.rememberedTokens}, cached rows: ${caches}`);
  }
  console.log(`rows once the load stopped: ${Object.entries(tables).map(([t, n]) => `${t} ${n}`).join(', ')}`);

  console.log('\nmemory per process (RSS / V8 heap used, MiB): first snapshot → last');
  const byPid = new Map<number, { name: string; first: string; last: string; firstLabel: string; lastLabel: string }>();
  for (const s of run.snapshots) {
    for (const i of s.instances) {
      const figure = `${i.rss} / ${i.state.memoryMiB.heapUsed}`;
      const seen = byPid.get(i.pid);
      if (seen) Object.assign(seen, { last: figure, lastLabel: s.label });
      else byPid.set(i.pid, { name: i.name, first: figure, last: figure, firstLabel: s.label, lastLabel: s.label });
    }
  }
  for (const [pid, m] of byPid) console.log(`  ${m.name} (pid ${pid}): ${m.first} (${m.firstLabel}) → ${m.last} (${m.lastLabel})`);
  if (options.short) console.log('  (a short run: too brief for memory figures to mean much)');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

main().catch(async (e: unknown) => {
  if (!wasInterrupted()) console.error(e);
  await cleanUp();
  process.exit(1);
});
