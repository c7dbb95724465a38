import { DynamicModule } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createServer } from 'node:net';
import { createApp } from '../../src/app.factory';
import { AppConfig } from '../../src/config/app-config';
import { loadConfig } from '../../src/config/load-config';
import { createTestDatabase } from './database';

/** The bootstrap admin's password in every test app (username `admin`). */
export const TEST_ADMIN_PASSWORD = 'admin-password-for-tests';

/** Collects the app's JSON log lines so tests can read what would have been logged. */
export class LogCapture {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  get text(): string {
    return this.lines.join('');
  }
  entries(): Record<string, unknown>[] {
    return this.lines.flatMap((l) => l.split('\n')).filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export interface TestApp {
  readonly app: NestExpressApplication;
  readonly config: AppConfig;
  /** `http://127.0.0.1:<port>`; also the issuer unless ISSUER_URL is given. */
  readonly url: string;
  readonly databaseUrl: string;
  readonly logs: LogCapture;
  close(): Promise<void>;
}

export interface BootOptions {
  /** Settings, as environment variables. */
  env?: Record<string, string>;
  /** Reuse a database (two instances on one database); by default each app gets a fresh one. */
  databaseUrl?: string;
  extraModules?: DynamicModule['imports'];
  /** A path for the issuer (`/t1` makes it `http://127.0.0.1:<port>/t1`). */
  issuerPath?: string;
}

/** Boots the real application on a free loopback port against its own fresh, migrated database. */
export async function bootApp(options: BootOptions = {}): Promise<TestApp> {
  const port = await freePort();
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'info', BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, ISSUER_URL: `http://127.0.0.1:${port}${options.issuerPath ?? ''}`, PORT: String(port), ...options.env });
  const logs = new LogCapture();
  const app = await createApp({ config, databaseUrl, logDestination: logs, extraModules: options.extraModules });
  await app.listen(port, '127.0.0.1');
  return { app, config, url: `http://127.0.0.1:${port}`, databaseUrl, logs, close: () => app.close() };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
