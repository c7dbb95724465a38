import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { isDatabaseUnavailable } from './database-unavailable';

interface Job {
  readonly name: string;
  readonly run: () => Promise<unknown>;
  running: boolean;
  failing: boolean;
}

/**
 * The housekeeping of this instance — pruning expired rows, sweeping unused self-registered apps (SPEC §6) — every
 * HOUSEKEEPING_INTERVAL. Every instance runs it; the deletions skip rows another instance holds. A run that fails
 * (PostgreSQL stopped or failing over) is logged in one line and the next run simply tries again, so the jobs carry
 * on by themselves once the database answers; a run still going when the next is due is not doubled.
 */
@Injectable()
export class ScheduledJobs implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ScheduledJobs.name);
  private readonly jobs: Job[] = [];
  private timer?: NodeJS.Timeout;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** Registers a job (from a provider's constructor); its first run is one interval after start. */
  every(name: string, run: () => Promise<unknown>): void {
    this.jobs.push({ name, run, running: false, failing: false });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.runAll(), this.config.housekeeping.intervalMs);
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private runAll(): void {
    for (const job of this.jobs) {
      if (job.running) continue;
      job.running = true;
      job.run().then(
        () => {
          if (job.failing) this.logger.log({ job: job.name }, 'housekeeping job ran again');
          job.failing = false;
        },
        (err: unknown) => {
          job.failing = true;
          if (isDatabaseUnavailable(err)) this.logger.warn({ job: job.name }, 'housekeeping job skipped: database unavailable');
          else this.logger.error({ err, job: job.name }, 'housekeeping job failed');
        },
      ).finally(() => (job.running = false));
    }
  }
}
