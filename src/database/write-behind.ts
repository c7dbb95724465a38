import { Logger } from '@nestjs/common';

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

  constructor(
    name: string,
    /** Writes the batch: ids and their latest time of use. */
    private readonly write: (ids: string[], times: Date[]) => Promise<void>,
    intervalMs: number,
  ) {
    this.logger = new Logger(name);
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
      return this.write([...batch.keys()], [...batch.values()]).catch((err) => {
        // Put back what failed, unless newer uses arrived meanwhile.
        for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
        throw err;
      });
    });
    return this.writing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
