import { Inject, Injectable, Logger } from '@nestjs/common';
import { deleteInBatches } from '../../database/batched-delete';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { AppsService } from '../apps.service';
import { DatabaseNotifications } from '../../database/notifications.service';
import { ScheduledJobs } from '../../database/scheduled-jobs';

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
    jobs: ScheduledJobs,
  ) {
    jobs.every('sweep unused self-registered apps', () => this.sweep());
  }

  async sweep(): Promise<number> {
    // Uses recorded here but not yet written must keep their apps.
    await this.apps.flushUsage();
    // In batches of a hundred apps: each takes its grants, codes and refresh tokens with it (ON DELETE CASCADE).
    const { rows: affected } = await deleteInBatches(this.dataSource, 'apps', 'id',
      `provenance IN ('dcr', 'cimd')
        AND ((last_used_at IS NULL AND created_at < now() - make_interval(secs => $1))
          OR (last_used_at < now() - make_interval(secs => $2)
              AND NOT EXISTS (SELECT 1 FROM refresh_tokens t
                               WHERE t.app_id = apps.id AND t.revoked_at IS NULL AND t.rotated_at IS NULL AND t.expires_at > now())))`,
      [this.config.dcr.unusedTtl, this.config.dcr.idleTtl], 100);
    if (affected > 0) {
      await this.notifications.flush();
      this.logger.log({ removed: affected }, 'removed unused self-registered apps');
    }
    return affected;
  }
}
