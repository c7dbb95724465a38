import { Injectable, OnModuleInit } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { DatabaseNotifications } from './notifications.service';

const CHANNEL = 'portcullis_table_changes';

export interface CachedRowsOptions {
  /** Rows kept at most; the least recently used go first. */
  readonly max: number;
  /** A bound on staleness should a change ever go unheard; every change heard clears at once. */
  readonly ttlMs: number;
}

/**
 * Rows of one table by key, read through from the database and kept in memory. Absent rows are not kept (an
 * unknown client_id costs a query, not memory). Copies are dropped when the table changes on any instance (the
 * table's trigger, migration CachedRowsChangeFeed), when this instance changes it (`clear()` after its own
 * write, before it answers), and whenever the listening connection reconnects, since a change may have gone
 * unheard meanwhile.
 */
export class CachedRows<T extends object> {
  private readonly rows: LRUCache<string, T>;
  /**
   * Bumped by every clear: a read that began before a change must not store what it read after the change
   * cleared the cache, or the stale copy would outlive the change.
   */
  private generation = 0;

  constructor(
    readonly table: string,
    private readonly load: (key: string) => Promise<T | null>,
    options: CachedRowsOptions,
  ) {
    this.rows = new LRUCache<string, T>({ max: options.max, ttl: options.ttlMs });
  }

  async get(key: string): Promise<T | null> {
    const cached = this.rows.get(key);
    if (cached) return cached;
    const generation = this.generation;
    const row = await this.load(key);
    if (row && generation === this.generation) this.rows.set(key, Object.freeze(row));
    return row;
  }

  clear(): void {
    this.generation++;
    this.rows.clear();
  }

  /** Rows held now. */
  get size(): number {
    return this.rows.size;
  }
}

/** Registers caches for the table-change notifications. */
@Injectable()
export class TableChanges implements OnModuleInit {
  private readonly caches: CachedRows<object>[] = [];

  constructor(private readonly notifications: DatabaseNotifications) {}

  /** A cache of `table` that every instance keeps right. */
  cache<T extends object>(table: string, load: (key: string) => Promise<T | null>, options: CachedRowsOptions): CachedRows<T> {
    const cache = new CachedRows<T>(table, load, options);
    this.caches.push(cache as unknown as CachedRows<object>);
    return cache;
  }

  /** Rows held per table, for the runtime state report. */
  sizes(): Record<string, number> {
    const sizes: Record<string, number> = {};
    for (const cache of this.caches) sizes[cache.table] = (sizes[cache.table] ?? 0) + cache.size;
    return sizes;
  }

  async onModuleInit(): Promise<void> {
    await this.notifications.subscribe(CHANNEL, {
      onNotification: (table) => this.caches.filter((c) => c.table === table).forEach((c) => c.clear()),
      onConnected: () => this.caches.forEach((c) => c.clear()),
    });
  }
}
