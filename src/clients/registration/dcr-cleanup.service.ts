import { Inject, Injectable, Logger } from '@nestjs/common';
import { deleteInBatches, updateInBatches } from '../../database/batched-delete';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { Metrics } from '../../common/metrics/metrics';
import { AppsService } from '../apps.service';
import { DatabaseNotifications } from '../../database/notifications.service';
import { ScheduledJobs } from '../../database/scheduled-jobs';
import { unusedSelfRegisteredApp } from './unused-apps';

/** Apps per statement: each takes its grants, codes and refresh tokens with it, so fewer than other pruning. */
export const SWEEP_BATCH_SIZE = 100;

/**
 * Self-registered apps nobody uses are removed (SPEC §5): never used within `unusedTtl` of registering, or idle
 * for `idleTtl` with no live refresh token. Their grants and tokens go with them (ON DELETE CASCADE) and the
 * database denies the live access tokens of the deleted rows in the same transaction; a removed client then gets
 * `invalid_client` and registers again.
 */
@Injectable()
export class DcrCleanupService {
  private readonly logger = new Logger(DcrCleanupService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly notifications: DatabaseNotifications,
    private readonly apps: AppsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
    jobs: ScheduledJobs,
  ) {
    jobs.every('sweep unused self-registered apps', () => this.sweep());
  }

  async sweep(): Promise<number> {
    // Uses recorded here but not yet written must keep their apps.
    await this.apps.flushUsage();
    // In batches (ON DELETE CASCADE takes each app's grants, codes and refresh tokens along).
    const { rows: affected, batches } = await deleteInBatches(this.dataSource, 'apps', 'id', unusedSelfRegisteredApp('apps', '$1', '$2'),
      [this.config.dcr.unusedTtl, this.config.dcr.idleTtl], SWEEP_BATCH_SIZE);
    this.metrics.pruned('apps', affected);
    if (affected > 0) {
      await this.notifications.flush();
      this.logger.log({ removed: affected, batches }, 'removed unused self-registered apps');
    }
    // A registration's digest covers its source address: kept only while it can still match (OAUTH2_DCR_REUSE_WINDOW).
    await updateInBatches(this.dataSource, 'apps', 'id', 'registration_digest = NULL',
      'registration_digest IS NOT NULL AND created_at < now() - make_interval(secs => $1)', [this.config.dcr.reuseWindow]);
    return affected;
  }
}
