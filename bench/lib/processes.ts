/**
 * Child processes, CPU pinning, temporary directories and the clean-up that must happen however the bench ends
 * (done, an error, Ctrl-C): every server it started is stopped and every directory it made is removed.
 */
import { ChildProcess, execFileSync, spawn, SpawnOptions } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Cleanup = () => Promise<void> | void;

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
const cleanups: Cleanup[] = [];
let interrupted = false;

/** After Ctrl-C the run's own failures (servers gone mid-request) are expected, not news. */
export function wasInterrupted(): boolean {
  return interrupted;
}

/** Runs on the way out of a normal run, and from the signal and error handlers below. */
export async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch((e) => console.error('clean-up:', e));
  await Promise.all([...children].map((child) => stopChild(child)));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Registers something to undo at the end (stopping PostgreSQL, for one). Last registered, first run. */
export function onCleanUp(fn: Cleanup): void {
  cleanups.push(fn);
}

/** Ctrl-C and errors still take every child down; `exit` is the last resort for anything left running. */
export function installExitHandlers(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      console.error(`\n${signal}: stopping the servers`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  process.once('exit', () => {
    for (const child of children) child.kill('SIGKILL');
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755); // the embedded PostgreSQL runs as the `postgres` user when we are root
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/**
 * Starts a tracked child. With `cpu`, it runs under `taskset -c <cpu>`: taskset execs the command, so the child's
 * pid is the server's own and every thread it starts inherits the pinning.
 */
export function startChild(command: string, args: string[], options: SpawnOptions & { cpu?: number }): ChildProcess {
  const { cpu, ...spawnOptions } = options;
  const child = cpu === undefined
    ? spawn(command, args, spawnOptions)
    : spawn('taskset', ['-c', String(cpu), command, ...args], spawnOptions);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL if it has not gone within 10 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Pins every thread of a process (`taskset -a`): Node's libuv and V8 threads too, not just the main one. */
export function pinProcess(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** Pins a process and all its descendants, e.g. a postmaster and the backends it already forked. */
export function pinTree(pid: number, cpu: number): void {
  pinProcess(pid, cpu);
  for (const child of childPids(pid)) pinTree(child, cpu);
}

function childPids(pid: number): number[] {
  const tasks = `/proc/${pid}/task`;
  if (!existsSync(tasks)) return [];
  return readdirSync(tasks).flatMap((tid) => {
    try {
      return readFileSync(`${tasks}/${tid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });
}

/** Resident memory of one process, in MiB. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

export async function waitReady(url: string, child: ChildProcess, what: string): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < 90_000) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it was ready`);
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not become ready at ${url} within 90 s`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

/** The last lines a child wrote to a piped stream, for the error message when it dies. */
export function tail(stream: NodeJS.ReadableStream | null, keep = 30): () => string {
  const lines: string[] = [];
  stream?.on('data', (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > keep) lines.splice(0, lines.length - keep);
  });
  return () => lines.join('\n');
}
