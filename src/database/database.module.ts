import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { dataSourceOptions, runMigrations } from './data-source-options';
import { TableChanges } from './cached-rows';
import { DatabaseNotifications, LISTEN_URL } from './notifications.service';
import { PreparedStatements } from './prepared-statements';
import { ScheduledJobs } from './scheduled-jobs';

/** Connects to PostgreSQL and applies pending migrations before any other provider touches the database. */
@Module({})
export class DatabaseModule {
  /**
   * `listenUrl`: LISTEN needs a session of its own, which a pooler in transaction mode (PgBouncer) cannot give;
   * DATABASE_LISTEN_URL then names PostgreSQL directly (or a session-mode pool) for that one connection.
   */
  static forRoot(url: string, limits: AppConfig['database'], listenUrl = url): DynamicModule {
    return {
      module: DatabaseModule,
      global: true,
      providers: [{ provide: LISTEN_URL, useValue: listenUrl }, DatabaseNotifications, TableChanges, PreparedStatements, ScheduledJobs],
      exports: [DatabaseNotifications, TableChanges, PreparedStatements, ScheduledJobs],
      imports: [
        TypeOrmModule.forRootAsync({
          // A database that is still booting gets a few seconds; a wrong URL fails start-up quickly.
          useFactory: () => ({ ...dataSourceOptions(url, limits), retryAttempts: 5, retryDelay: 1000 }),
          dataSourceFactory: async (options) => {
            const dataSource = await new DataSource(options!).initialize();
            await runMigrations(dataSource);
            return dataSource;
          },
        }),
      ],
    };
  }
}
