import 'reflect-metadata';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions, runMigrations } from '../../src/database/data-source-options';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { TEMPLATE_ENV, ADMIN_URL_ENV, withDatabase } from '../helpers/database';

/**
 * Starts ONE PostgreSQL for the whole run (embedded, unless DATABASE_URL names a server), and migrates a template
 * database from which every test file clones its own (test/helpers/database.ts).
 */
export default async function globalSetup(): Promise<void> {
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-test-pg-'));
    await chmod(dir, 0o755); // the server runs as the postgres user, who must reach its data directory
    const cluster = await startEmbeddedPostgres({ dir: join(dir, 'pg'), database: 'postgres', ephemeral: true, preferredPort: 0 });
    (globalThis as Record<string, unknown>).__PORTCULLIS_PG__ = cluster;
    adminUrl = cluster.adminUrl;
  }
  const template = `portcullis_template_${process.pid}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(template)}`);
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(template)}`);
  } finally {
    await admin.end();
  }
  const dataSource = await new DataSource(dataSourceOptions(withDatabase(adminUrl, template))).initialize();
  try {
    await runMigrations(dataSource);
  } finally {
    await dataSource.destroy();
  }
  // Workers are started after this and inherit the environment.
  process.env[ADMIN_URL_ENV] = adminUrl;
  process.env[TEMPLATE_ENV] = template;
}
