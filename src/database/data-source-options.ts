import { DataSource, DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

/** The one description of the database, shared by the app, the TypeORM CLI (ormconfig.ts) and the tests. */
export function dataSourceOptions(url: string, limits: AppConfig['database'] = DEFAULT_LIMITS): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'all',
    // Never: the schema changes only through reviewed migrations (SPEC §6).
    synchronize: false,
    // gen_random_uuid() is built into PostgreSQL 13+, so no extension (and no superuser) is needed.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    migrationsRun: false,
    extra: {
      max: limits.poolSize,
      connectionTimeoutMillis: limits.connectTimeoutMs,
      // Server side: a statement running longer is cancelled (57014) and answered 503; so is a transaction left idle.
      statement_timeout: limits.statementTimeoutMs,
      idle_in_transaction_session_timeout: limits.statementTimeoutMs,
    },
  };
}

/** The defaults of DATABASE_POOL_SIZE, DATABASE_CONNECT_TIMEOUT and DATABASE_STATEMENT_TIMEOUT (the CLI uses them). */
const DEFAULT_LIMITS: AppConfig['database'] = { poolSize: 10, connectTimeoutMs: 5000, statementTimeoutMs: 30_000 };

/**
 * Runs pending migrations under a PostgreSQL advisory lock, so several instances starting together against one
 * database apply each migration once.
 */
export async function runMigrations(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await dataSource.runMigrations({ transaction: 'all' });
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await runner.release();
  }
}

/** Arbitrary, fixed: 'portcull' as a 64-bit integer. */
const MIGRATION_LOCK_KEY = '8102082353617037420';
