import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';

/** An embedded PostgreSQL in a child process (see postgres-child.ts): stop it and start it again on the same port. */
export class PostgresProcess {
  private constructor(private readonly child: ChildProcess, readonly url: string, readonly port: number) {}

  static start(dir: string, database: string, port: number): Promise<PostgresProcess> {
    const child = fork(join(__dirname, 'postgres-child.ts'), [dir, database, String(port)], {
      execArgv: ['-r', 'ts-node/register/transpile-only'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += String(chunk)));
    return new Promise((resolve, reject) => {
      child.once('message', (m) => resolve(new PostgresProcess(child, (m as { url: string }).url, (m as { port: number }).port)));
      child.once('exit', (code) => reject(new Error(`PostgreSQL did not start (exit ${code}): ${stderr.slice(-2000)}`)));
    });
  }

  /** Stops the cluster cleanly (a fast shutdown: connections are cut, as in a failover) and waits for the process. */
  stop(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.send('stop');
    });
  }
}
