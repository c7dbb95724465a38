import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { join } from 'node:path';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { AppModule } from '../app.module';
import { AppConfig } from '../config/app-config';
import { withEmbeddedKeyEncryptionSecret } from '../config/key-encryption-secret';
import { dataSourceOptions } from '../database/data-source-options';
import { EmbeddedDatabase, openEmbeddedPostgres } from '../database/embedded-postgres';

/**
 * The database a command works on — the configured one, as the server would use it: DATABASE_URL, or the embedded
 * PostgreSQL in DATA_DIR (the running server's, or started for the command) — and the application on it, built
 * lazily: `db:status` needs only a connection, the other commands the services the server runs.
 */
export class CliDatabase {
  private app?: INestApplicationContext;
  private dataSource?: DataSource;

  private constructor(readonly config: AppConfig, readonly url: string, private readonly embedded?: EmbeddedDatabase) {}

  static async open(config: AppConfig): Promise<CliDatabase> {
    if (config.databaseUrl) return new CliDatabase(config, config.databaseUrl);
    const embedded = await openEmbeddedPostgres({ dir: join(config.dataDir, 'postgres'), database: 'portcullis' });
    return new CliDatabase(withEmbeddedKeyEncryptionSecret(config), embedded.url, embedded);
  }

  /** A plain connection, without the application (and without migrating). */
  async connection(): Promise<DataSource> {
    this.dataSource ??= await new DataSource({ ...dataSourceOptions(this.url, { ...this.config.database, poolSize: 2 }) }).initialize();
    return this.dataSource;
  }

  /**
   * The application's services on this database. Starting it migrates the schema, as a server start does. Logs go
   * to stderr, warnings and worse only, so that stdout is the command's answer.
   */
  async services(): Promise<INestApplicationContext> {
    if (!this.app) {
      const logDestination = pino.destination({ dest: 2, sync: true });
      // A command serves nothing: no metrics listener (the server's METRICS_PORT is taken by the server).
      const config = { ...this.config, logLevel: this.config.logLevel === 'info' ? 'warn' : this.config.logLevel, metrics: { ...this.config.metrics, enabled: false, port: undefined } };
      this.app = await NestFactory.createApplicationContext(AppModule.forRoot({ config, databaseUrl: this.url, logDestination, announce: (text) => process.stderr.write(text) }), { logger: false, abortOnError: false });
    }
    return this.app;
  }

  async close(): Promise<void> {
    await this.app?.close();
    await this.dataSource?.destroy();
    await this.embedded?.stop();
  }
}
