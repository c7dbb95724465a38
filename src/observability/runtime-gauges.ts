import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { performance } from 'node:perf_hooks';
import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { Metrics } from '../common/metrics/metrics';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { TableChanges } from '../database/cached-rows';
import { DatabaseNotifications } from '../database/notifications.service';
import { AccessTokenDenyList } from '../grants/access-token-deny-list.service';

type ConnectCallback = (err: Error | undefined, client: PoolClient | undefined, release: (release?: unknown) => void) => void;

/**
 * The gauges of state other modules hold — the connection pool, the LISTEN connection, the deny set, the cached
 * rows — read when scraped, so the request path pays nothing for them (what `kill -USR2` prints, src/runtime-state.ts,
 * as series). And the time requests wait for a pooled connection, measured around the pool's `connect`.
 */
@Injectable()
export class RuntimeGauges {
  private denyList?: AccessTokenDenyList;

  constructor(
    metrics: Metrics,
    dataSource: DataSource,
    notifications: DatabaseNotifications,
    tables: TableChanges,
    private readonly moduleRef: ModuleRef,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    // TypeORM's pool, which the prepared statements of the hot paths share (src/database/prepared-statements.ts).
    const pool = (dataSource.driver as PostgresDriver).master as Pool;
    timeAcquisitions(pool, metrics);
    metrics.gauge('portcullis_db_pool_connections', 'Connections of the database pool: open (total), open and unused (idle), and requests waiting for one (waiting)', ['state'], (g) => {
      g.set({ state: 'total' }, pool.totalCount);
      g.set({ state: 'idle' }, pool.idleCount);
      g.set({ state: 'waiting' }, pool.waitingCount);
    });
    metrics.gauge('portcullis_db_pool_max_connections', 'DATABASE_POOL_SIZE: the most connections the pool opens', [], (g) => g.set(config.database.poolSize));
    metrics.gauge('portcullis_listener_connected', '1 while the LISTEN/NOTIFY connection is up, 0 while it reconnects (revocations and cache drops from other instances wait)', [], (g) => g.set(notifications.connected ? 1 : 0));
    metrics.gauge('portcullis_denied_tokens', 'Revoked access tokens not yet expired, held in memory by this instance', [], (g) => g.set(this.deniedTokens()));
    metrics.gauge('portcullis_cached_rows', 'Rows of apps and users held in memory by this instance, by table', ['table'], (g) => {
      for (const [table, rows] of Object.entries(tables.sizes())) g.set({ table }, rows);
    });
  }

  private deniedTokens(): number {
    // The grants module keeps its deny list to itself (it exports GrantsService only); read it as runtime-state does.
    this.denyList ??= this.moduleRef.get(AccessTokenDenyList, { strict: false });
    return this.denyList.liveCount;
  }
}

/** Wraps the pool's `connect` (callback form: TypeORM and pg's `pool.query`; promise form: anyone else). */
function timeAcquisitions(pool: Pool, metrics: Metrics): void {
  const connect = pool.connect.bind(pool) as (callback?: ConnectCallback) => Promise<PoolClient> | void;
  pool.connect = ((callback?: ConnectCallback) => {
    const started = performance.now();
    const acquired = () => metrics.poolAcquired((performance.now() - started) / 1000);
    if (typeof callback === 'function') {
      return connect((err, client, release) => {
        acquired();
        callback(err, client, release);
      });
    }
    return (connect() as Promise<PoolClient>).then(
      (client) => {
        acquired();
        return client;
      },
      (err: unknown) => {
        acquired();
        throw err;
      },
    );
  }) as Pool['connect'];
}
