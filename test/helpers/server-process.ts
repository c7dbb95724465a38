import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/common/paths';

/** The real entry point (src/main.ts) in its own process, as `npm start` runs it, minus the build step. */
export class ServerProcess {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(PROJECT_ROOT, 'src/main.ts')], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => this.output.push(d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => this.output.push(d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get text(): string {
    return this.output.join('');
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Polls `url` until it answers 200; returns the milliseconds it took. */
  async waitUntilReady(url: string, timeoutMs: number): Promise<number> {
    const started = Date.now();
    let exitCode: number | null | undefined;
    void this.exited.then((code) => (exitCode = code));
    while (Date.now() - started < timeoutMs) {
      if (exitCode !== undefined) throw new Error(`server exited (${exitCode}) before it was ready:\n${this.text}`);
      const ok = await fetch(url).then((r) => r.status === 200, () => false);
      if (ok) return Date.now() - started;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`not ready within ${timeoutMs} ms:\n${this.text}`);
  }
}
