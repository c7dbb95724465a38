/**
 * The soak's deployment: one embedded PostgreSQL that can be stopped and started again on the same port and data,
 * and several built production servers on it, each restartable on its own port, as behind a load balancer.
 */
import { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type * as EmbeddedPostgresModule from '../../src/database/embedded-postgres';
import { freePort, makeTempDir, onCleanUp, rssMiB, startChild, stopChild, tail, waitReady } from './processes';
import { ADMIN_PASSWORD, ROOT } from './servers';

/** What `kill -USR2` makes an instance print (src/runtime-state.ts). */
export interface RuntimeState {
  readonly pid: number;
  readonly listening: boolean;
  readonly deniedTokens: number;
  readonly deniedEntries: number;
  readonly rememberedTokens: number;
  readonly cachedRows: Record<string, number>;
  readonly memoryMiB: { readonly rss: number; readonly heapUsed: number };
}

const STATE_LINE = 'portcullis: state ';

/** The cluster's PostgreSQL, in this process's care: `restart()` keeps the data and the port. */
export class Postgres {
  private constructor(private db: EmbeddedPostgresModule.EmbeddedDatabase, private readonly dir: string) {}

  static async start(root: string): Promise<Postgres> {
    const dir = join(root, 'postgres');
    const pg = new Postgres(await startAt(dir), dir);
    onCleanUp(() => pg.db.stop());
    return pg;
  }

  get url(): string {
    return this.db.url;
  }

  /** A fast shutdown (open connections are cut, as in a failover). */
  stop(): Promise<void> {
    return this.db.stop();
  }

  async start(): Promise<void> {
    const port = this.db.port;
    const db = await startAt(this.dir, port);
    if (db.port !== port) {
      await db.stop();
      throw new Error(`PostgreSQL came back on port ${db.port}, not ${port} (the port was taken meanwhile)`);
    }
    this.db = db;
  }
}

function startAt(dir: string, preferredPort?: number): Promise<EmbeddedPostgresModule.EmbeddedDatabase> {
  const { startEmbeddedPostgres } = require(join(ROOT, 'dist/src/database/embedded-postgres.js')) as typeof EmbeddedPostgresModule;
  return startEmbeddedPostgres({ dir, database: 'portcullis', preferredPort });
}

/** One server of the cluster. Its port stays when it is restarted; its process (and pid) does not. */
export class Instance {
  private child?: ChildProcess;
  private stderr: () => string = () => '';
  private states: ((state: RuntimeState) => void)[] = [];
  /** Log lines at error level or above (JSON, `level` ≥ 50), the first ones of each process. */
  readonly errors: string[] = [];
  /** Every process this instance ran, in order, with what `exit` said. */
  readonly processes: { pid: number; exitCode?: number | null; signal?: NodeJS.Signals | null }[] = [];

  constructor(readonly name: string, readonly url: string, private readonly env: NodeJS.ProcessEnv) {}

  get pid(): number {
    return this.child!.pid!;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    // --expose-gc: the state report measures the heap after a full collection (src/runtime-state.ts).
    const child = startChild(process.execPath, ['--expose-gc', join(ROOT, 'dist/src/main.js')], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const record = { pid: child.pid! } as Instance['processes'][number];
    this.processes.push(record);
    child.once('exit', (code, signal) => Object.assign(record, { exitCode: code, signal }));
    this.child = child;
    this.stderr = tail(child.stderr, 50);
    let partial = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (/^\{.*"level":(5|6)\d/.test(line) && !line.includes('"statusCode":503') && this.errors.length < 50) this.errors.push(line);
        if (!line.startsWith(STATE_LINE)) continue;
        const state = JSON.parse(line.slice(STATE_LINE.length)) as RuntimeState;
        for (const resolve of this.states.splice(0)) resolve(state);
      }
    });
    try {
      await waitReady(`${this.url}/readyz`, child, this.name);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.name} stderr:\n${this.stderr()}`);
    }
  }

  /** SIGTERM, as a rolling restart sends it: the instance drains and exits by itself. */
  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child);
  }

  /** The instance's own account of what it holds in memory. */
  state(): Promise<RuntimeState> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} printed no state within 10 s`)), 10_000);
      this.states.push((state) => {
        clearTimeout(timer);
        resolve(state);
      });
      this.child!.kill('SIGUSR2');
    });
  }

  rss(): number {
    return rssMiB(this.pid);
  }

  recentErrors(): string {
    return this.stderr();
  }
}

export interface Cluster {
  readonly postgres: Postgres;
  readonly instances: Instance[];
}

/**
 * `count` instances on one fresh PostgreSQL, started together (migrations and the bootstrap admin happen once,
 * whoever is first), one issuer for all of them as behind a balancer. Draining is short so a restart is quick;
 * pruning runs every third of the access-token lifetime.
 */
export async function startCluster(count: number, accessTokenTtlSeconds: number): Promise<Cluster> {
  const root = makeTempDir('portcullis-soak-');
  const postgres = await Postgres.start(root);
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const issuer = `http://127.0.0.1:${ports[0]}`;
  const secret = randomBytes(24).toString('base64url');
  const instances = ports.map((port, i) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER_URL: issuer,
      DATA_DIR: join(root, `data-${i}`),
      DATABASE_URL: postgres.url,
      KEY_ENCRYPTION_SECRET: secret,
      BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
      OAUTH2_DCR_ENABLED: 'true',
      OAUTH2_DCR_RATE_LIMIT: '0', // every registration comes from 127.0.0.1
      OAUTH2_DCR_REUSE_WINDOW: '0', // each virtual user's registration makes a new client, as an agent's first connect does
      SHUTDOWN_DRAIN_DELAY: '1s',
      SHUTDOWN_TIMEOUT: '10s',
      ACCESS_TOKEN_TTL: String(accessTokenTtlSeconds),
      // Pruning often enough that expired denials and tokens leave memory and tables within the run.
      HOUSEKEEPING_INTERVAL: `${Math.max(5, Math.min(600, Math.round(accessTokenTtlSeconds / 3)))}s`,
    };
    delete env.CONFIG_FILE;
    return new Instance(String.fromCharCode(65 + i), `http://127.0.0.1:${port}`, env);
  });
  onCleanUp(async () => {
    for (const instance of instances) await instance.stop();
  });
  await Promise.all(instances.map((instance) => instance.start()));
  return { postgres, instances };
}
