import { Logger } from '@nestjs/common';

/** How often pending uses are written: what a crash can lose, and how stale another instance's view is. */
const USAGE_WRITE_INTERVAL_MS = 5000;

/**
 * Timestamps of use (an app's or a grant's `last_used_at`) collected in memory and written in one statement
 * per interval, instead of one UPDATE per request. `flush()` writes what is pending at once — before anything
 * reads those columns on this instance, and on shutdown; a crash loses at most one interval of them.
 */
export class UsageWriteBehind {
  private readonly logger: Logger;
  private pending = new Map<string, Date>();
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private readonly statement: string;

  constructor(
    /** The table whose `last_used_at` is written (by `id`); a fixed name, never input. */
    table: 'apps' | 'grants',
    /** Runs the batch's one statement. */
    private readonly query: (sql: string, params: unknown[]) => Promise<unknown>,
    intervalMs = USAGE_WRITE_INTERVAL_MS,
  ) {
    this.logger = new Logger(`${table} usage`);
    // A batch never moves a time of use backwards (another instance may have written a later one).
    this.statement = `UPDATE ${table} SET last_used_at = u.at FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
      WHERE ${table}.id = u.id AND (${table}.last_used_at IS NULL OR ${table}.last_used_at < u.at)`;
    this.timer = setInterval(() => void this.flush().catch((err) => this.logger.warn({ err }, 'writing usage timestamps failed')), intervalMs);
    this.timer.unref();
  }

  record(id: string, at: Date): void {
    this.pending.set(id, at);
  }

  /** Writes what is pending now; batches are written one after another. */
  flush(): Promise<void> {
    this.writing = this.writing.catch(() => undefined).then(() => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      return this.write([...batch.keys()], [...batch.values()]).catch((err: unknown) => {
        // Put back what failed, unless newer uses arrived meanwhile.
        for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
        throw err;
      });
    });
    return this.writing;
  }

  private async write(ids: string[], times: Date[]): Promise<void> {
    await this.query(this.statement, [ids, times]);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
