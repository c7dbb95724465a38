/**
 * `npm run bench`: builds the production server, then drives Portcullis (on an embedded PostgreSQL with
 * pg_stat_statements), panva's oidc-provider (bench/oidc-provider-server.mjs, configured alike) and a bare NestJS
 * ping (bench/nest-ping.js) through the same workloads in one interleaved run: for each workload, sample by
 * sample, each server in turn, so drift on the machine hits all of them alike. Two placements, each on fresh
 * servers: "split" (the Node server on core 0, PostgreSQL and the load generator on core 1) and "one-core" (the
 * Node server and PostgreSQL on core 0, the load generator on core 1).
 *
 * Prints one table per placement (req/s, p50, p99, errors, the ratios), each server's RSS, and Portcullis's
 * statements per request; writes everything to bench/results/latest.json. Nothing here asserts a performance
 * target. `--smoke` (CI) checks correctness only: every workload on every server for about a second, no errors.
 *
 * Flags: --smoke, --placement=split|one-core, --only=<workload,…>, --verbose (the top statements per workload),
 * --no-build, --seconds=N, --connections=N, --samples=N, --max-mint=N. Environment: BENCH_SECONDS (10), BENCH_CONNECTIONS (32),
 * BENCH_SAMPLES (3), BENCH_MAX_MINT (30000: codes or tokens minted for one window at most).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runLoad } from './lib/load';
import { AuthServer } from './lib/oauth';
import { statementsBetween, StatementUse } from './lib/pg-stats';
import { cleanUp, installExitHandlers, pinProcess, rssMiB, wasInterrupted } from './lib/processes';
import {
  errorReport, resultsTable, Row, Rss, rssTable, Run, ServerName, statementRows, StatementRow, statementsTable, summarize,
  topStatements,
} from './lib/report';
import { Placement, PortcullisServer, ROOT, Started, startOidcProvider, startPing, startPortcullis } from './lib/servers';
import { Budget, pingLoad, Workload, WORKLOAD_NAMES, WorkloadName, WORKLOADS } from './lib/workloads';

interface Options {
  readonly smoke: boolean;
  readonly verbose: boolean;
  readonly build: boolean;
  readonly seconds: number;
  readonly connections: number;
  readonly samples: number;
  readonly maxMint: number;
  /** Deferred work (a batched write-behind, say) lands in the window's statements if it comes within this. */
  readonly settleMs: number;
  readonly placements: readonly Placement['name'][];
  readonly workloads: readonly Workload[];
}


interface PlacementResult {
  readonly placement: Placement;
  readonly runs: Run[];
  readonly rows: Row[];
  readonly statements: StatementRow[];
  readonly rss: Rss[];
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  installExitHandlers();
  if (options.build) build();

  const cores = availableCores();
  const placements = options.placements.map((name) => placementFor(name, cores));
  console.log(describeMachine(cores, options));
  if (cores < 2 && !options.smoke) console.log('Only one core is available: nothing is pinned, the placements are not what they say.');

  const results: PlacementResult[] = [];
  let postgresVersion = '';
  for (const placement of placements) {
    const { result, pgVersion } = await runPlacement(placement, options);
    results.push(result);
    postgresVersion = pgVersion;
  }
  await cleanUp();

  for (const r of results) printPlacement(r, options);
  const file = writeResults(results, options, cores, postgresVersion);
  console.log(`\nresults: ${file}`);
  if (options.smoke) assertSmoke(results, options);
}

function parseOptions(args: string[]): Options {
  const flag = (name: string) => args.includes(`--${name}`);
  const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const known = ['smoke', 'verbose', 'no-build', 'placement', 'only', 'seconds', 'connections', 'samples', 'max-mint'];
  for (const arg of args) {
    if (!known.includes(arg.replace(/^--/, '').split('=')[0])) throw new Error(`unknown argument ${arg} (known: ${known.map((k) => `--${k}`).join(' ')})`);
  }
  const smoke = flag('smoke');
  const number = (name: string, env: string | undefined, fallback: number) => {
    const n = Number(value(name) ?? env ?? fallback);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number`);
    return n;
  };

  const only = value('only')?.split(',').filter(Boolean) ?? [...WORKLOAD_NAMES];
  const unknown = only.filter((w) => !(WORKLOAD_NAMES as readonly string[]).includes(w));
  if (unknown.length) throw new Error(`unknown workload ${unknown.join(', ')} (known: ${WORKLOAD_NAMES.join(', ')})`);

  const placement = value('placement');
  if (placement && !['split', 'one-core'].includes(placement)) throw new Error('--placement must be split or one-core');
  return {
    smoke,
    verbose: flag('verbose'),
    build: !flag('no-build'),
    // The smoke run: short, few connections, one sample, no pinning (it proves correctness, not speed).
    seconds: number('seconds', smoke ? undefined : process.env.BENCH_SECONDS, smoke ? 1 : 10),
    connections: number('connections', smoke ? undefined : process.env.BENCH_CONNECTIONS, smoke ? 4 : 32),
    samples: number('samples', smoke ? undefined : process.env.BENCH_SAMPLES, smoke ? 1 : 3),
    maxMint: smoke ? 200 : number('max-mint', process.env.BENCH_MAX_MINT, 30_000),
    settleMs: smoke ? 250 : 1000,
    placements: placement ? [placement as Placement['name']] : smoke ? ['unpinned'] : ['split', 'one-core'],
    workloads: WORKLOADS.filter((w) => only.includes(w.name)),
  };
}

function build(): void {
  console.log('npm run build');
  const built = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('`npm run build` failed (see above); nothing was measured');
}

/** Cores this process may run on (nproc honours an affinity mask set from outside). */
function availableCores(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return cpus().length;
  }
}

function placementFor(name: Placement['name'], cores: number): Placement {
  if (cores < 2 || name === 'unpinned') return { name: cores < 2 ? 'unpinned' : name };
  return name === 'split' ? { name, serverCpu: 0, postgresCpu: 1, benchCpu: 1 } : { name, serverCpu: 0, postgresCpu: 0, benchCpu: 1 };
}

function describeMachine(cores: number, o: Options): string {
  return [
    `machine: ${cores} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`,
    `load: ${o.seconds} s per window, ${o.connections} connections, median of ${o.samples} sample(s); workloads: ${o.workloads.map((w) => w.name).join(', ')}`,
  ].join('\n');
}

interface Target {
  readonly name: ServerName;
  readonly pid: number;
  readonly auth?: AuthServer;
  readonly pingUrl?: string;
}

/** Fresh servers, pinned for this placement; every workload, sample by sample, each server in turn. */
async function runPlacement(placement: Placement, o: Options): Promise<{ result: PlacementResult; pgVersion: string }> {
  console.log(`\n== placement ${placement.name}: ${describePlacement(placement)}`);
  if (placement.benchCpu !== undefined) pinProcess(process.pid, placement.benchCpu);
  const started: Started<unknown>[] = [];
  try {
    const portcullis = await startPortcullis(placement);
    started.push(portcullis);
    const oidc = await startOidcProvider(placement);
    started.push(oidc);
    const ping = o.workloads.some((w) => w.withPing) ? await startPing(placement) : undefined;
    if (ping) started.push(ping);

    const targets: Target[] = [
      { name: 'portcullis', pid: portcullis.pid, auth: portcullis.server },
      { name: 'oidc-provider', pid: oidc.pid, auth: oidc.server },
      ...(ping ? [{ name: 'nest-ping' as const, pid: ping.pid, pingUrl: ping.server.url }] : []),
    ];
    const rssStart = new Map(targets.map((t) => [t.name, rssMiB(t.pid)]));
    const runs: Run[] = [];
    for (const workload of o.workloads) {
      for (let sample = 1; sample <= o.samples; sample++) {
        // Each sample starts with another server, so none is always the first one after a pause.
        const eligible = targets.filter((t) => t.auth || workload.withPing);
        for (const target of rotate(eligible, sample - 1)) {
          const run = await measure(workload, sample, target, portcullis.server, runs, o);
          runs.push(run);
          console.error(progressLine(placement, run));
        }
      }
    }
    const rss = targets.map((t) => ({ server: t.name, startMiB: rssStart.get(t.name)!, afterMiB: rssMiB(t.pid) }));
    const pgVersion = await portcullis.server.stats.serverVersion();
    const names = o.workloads.map((w) => w.name);
    return { result: { placement, runs, rows: summarize(runs, names), statements: statementRows(runs, names), rss }, pgVersion };
  } finally {
    for (const s of started.reverse()) await s.stop();
  }
}

function describePlacement(p: Placement): string {
  if (p.serverCpu === undefined) return 'nothing pinned';
  return `Node servers on core ${p.serverCpu}, PostgreSQL on core ${p.postgresCpu}, load generator on core ${p.benchCpu}`;
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** One window: mint what it consumes (outside the window), run it, and count Portcullis's statements in it. */
async function measure(workload: Workload, sample: number, target: Target, portcullis: PortcullisServer, earlier: readonly Run[], o: Options): Promise<Run> {
  if (!target.auth) {
    const result = await runLoad(pingLoad(target.pingUrl!), o.seconds, o.connections);
    return { workload: workload.name, server: target.name, sample, result };
  }
  const load = await workload.prepare(target.auth, budgetFor(workload.name, target.name, earlier, o));
  const stats = target.name === 'portcullis' ? portcullis.stats : undefined;
  const before = await stats?.snapshot();
  const result = await runLoad(load, o.seconds, o.connections);
  let statements: StatementUse[] | undefined;
  if (stats && before) {
    await new Promise((r) => setTimeout(r, o.settleMs));
    statements = statementsBetween(before, await stats.snapshot());
  }
  return { workload: workload.name, server: target.name, sample, result, minted: load.amount, statements };
}

/**
 * How much to mint for a consuming window: the rate this server reached in this workload's previous sample, or
 * else (the first sample) its code-minting rate, with room to spare; `maxMint` caps it. When a server is faster
 * than that, its window ends early and is marked (`*`); the rate is still requests over the time they took.
 */
function budgetFor(workload: WorkloadName, server: ServerName, earlier: readonly Run[], o: Options): Budget {
  const last = (name: WorkloadName) => [...earlier].reverse().find((r) => r.workload === name && r.server === server)?.result.rps;
  const expectedRate = last(workload) ?? 1.5 * (last('code-minting') ?? 1000);
  return { seconds: o.seconds, connections: o.connections, expectedRate, maxMint: o.maxMint };
}

function progressLine(p: Placement, run: Run): string {
  const r = run.result;
  const stmts = run.statements ? `, ${perRequestOf(run).toFixed(2)} statements/req` : '';
  const minted = run.minted ? `, ${run.minted} pre-minted${r.ranOut ? `, ran out after ${r.seconds.toFixed(1)} s` : ''}` : '';
  return `[${p.name}] ${run.workload} #${run.sample} ${run.server}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.errors} errors${minted}${stmts}`;
}

function perRequestOf(run: Run): number {
  const requests = run.result.responses;
  const calls = (run.statements ?? []).filter((u) => u.toplevel && u.kind === 'statement').reduce((n, u) => n + u.calls, 0);
  return requests ? calls / requests : 0;
}

function printPlacement(r: PlacementResult, o: Options): void {
  const { placement } = r;
  console.log(`\n## ${placement.name}: ${describePlacement(placement)}`);
  console.log(`${o.connections} connections, ${o.seconds} s windows, medians of ${o.samples}; req/s counts successful responses\n`);
  console.log(resultsTable(r.rows));
  if (r.rows.some((row) => row.ranOut)) {
    console.log('* in some samples the pre-minted codes or tokens ran out before the window ended (BENCH_MAX_MINT); the rate is over the time they lasted');
  }
  console.log(`\nRSS of each server process (${placement.name})\n`);
  console.log(rssTable(r.rss));
  console.log(`\nPortcullis: statements per request from pg_stat_statements (${placement.name}; medians; LISTEN/UNLISTEN left out)\n`);
  console.log(statementsTable(r.statements));
  if (o.verbose) console.log(`\ntop statements per workload (${placement.name}):\n${topStatements(r.statements)}`);
  const errors = errorReport(r.runs);
  if (errors.length) console.log(`\nerrors (${placement.name}):\n${errors.map((l) => `  ${l}`).join('\n')}`);
}

function writeResults(results: readonly PlacementResult[], o: Options, cores: number, postgresVersion: string): string {
  const version = (pkg: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, o.smoke ? 'smoke.json' : 'latest.json');
  const json = {
    date: new Date().toISOString(),
    machine: { cores, cpu: cpus()[0]?.model, node: process.version, platform: `${process.platform} ${process.arch}` },
    versions: {
      portcullis: own.version, 'oidc-provider': version('oidc-provider'), '@nestjs/core': version('@nestjs/core'),
      autocannon: version('autocannon'), postgresql: postgresVersion,
    },
    options: { smoke: o.smoke, seconds: o.seconds, connections: o.connections, samples: o.samples, maxMint: o.maxMint, workloads: o.workloads.map((w) => w.name) },
    placements: results.map((r) => ({
      placement: r.placement, rows: r.rows, rss: r.rss, statements: r.statements,
      runs: r.runs.map(({ statements, ...run }) => ({ ...run, statementsPerRequest: statements ? perRequestOf({ ...run, statements }) : undefined })),
    })),
  };
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  return file;
}

/** Every workload produced successes on every server it runs on, with no error; pg_stat_statements counted. */
function assertSmoke(results: readonly PlacementResult[], o: Options): void {
  const failures: string[] = [];
  for (const r of results) {
    for (const workload of o.workloads) {
      const servers: ServerName[] = ['portcullis', 'oidc-provider', ...(workload.withPing ? ['nest-ping' as const] : [])];
      for (const server of servers) {
        const row = r.rows.find((x) => x.workload === workload.name && x.server === server);
        if (!row) failures.push(`${workload.name} / ${server}: not measured`);
        else if (row.errors > 0) failures.push(`${workload.name} / ${server}: ${row.errors} errors`);
        else if (row.successes === 0) failures.push(`${workload.name} / ${server}: no successful response`);
      }
    }
    const exchange = r.statements.find((s) => s.workload === 'code-exchange');
    if (exchange && !(exchange.perRequest.statements > 0)) failures.push('code-exchange / portcullis: pg_stat_statements counted no statement');
  }
  if (failures.length) {
    console.error(`\nsmoke: FAILED\n${failures.map((f) => `  ${f}`).join('\n')}`);
    const errors = results.flatMap((r) => errorReport(r.runs));
    if (errors.length) console.error(`what the servers answered:\n${errors.map((l) => `  ${l}`).join('\n')}`);
    process.exitCode = 1;
    return;
  }
  const checks = results.reduce((n, r) => n + r.rows.length, 0);
  console.log(`\nsmoke: OK (${checks} workload × server checks, every one with successes and no error)`);
}

main().catch(async (e: unknown) => {
  if (wasInterrupted()) return; // the signal handler is cleaning up and exits
  console.error(`bench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  await cleanUp();
  process.exit(1);
});
