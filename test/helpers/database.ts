import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export const ADMIN_URL_ENV = 'PORTCULLIS_TEST_ADMIN_URL';
export const TEMPLATE_ENV = 'PORTCULLIS_TEST_TEMPLATE';

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function adminUrl(): string {
  const url = process.env[ADMIN_URL_ENV];
  if (!url) throw new Error(`${ADMIN_URL_ENV} is not set: run the tests through jest (test/setup/global-setup.ts)`);
  return url;
}

async function withAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database for one test file: a copy of the migrated template, or empty when `empty` is set. */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<string> {
  const name = `test_${randomBytes(6).toString('hex')}`;
  await withAdmin(async (client) => {
    const template = options.empty ? 'template0' : process.env[TEMPLATE_ENV]!;
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE ${client.escapeIdentifier(template)}`);
  });
  return withDatabase(adminUrl(), name);
}

/** Drops a test database, cutting off whoever is still connected. */
export async function dropTestDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`));
}

/** Runs one SQL statement against a test app's database (to look at what was stored, or to age a row). */
export async function sql<T = Record<string, unknown>>(t: { databaseUrl: string }, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: t.databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}
