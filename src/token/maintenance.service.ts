import { Injectable, Logger } from '@nestjs/common';
import { Metrics } from '../common/metrics/metrics';
import type { Pruned } from '../database/batched-delete';
import { ScheduledJobs } from '../database/scheduled-jobs';
import { GrantsService } from '../grants/grants.service';
import { AuditEventsService } from '../identity/audit/audit-events.service';
import { SigningKeysService } from './signing-keys.service';

/**
 * Expired rows are pruned (SPEC §6): codes, refresh tokens, denied jtis and keys no token can need; and audit
 * events older than AUDIT_RETENTION.
 */
@Injectable()
export class MaintenanceService {
  private readonly logger = new Logger(MaintenanceService.name);

  constructor(
    private readonly grants: GrantsService,
    private readonly keys: SigningKeysService,
    private readonly metrics: Metrics,
    private readonly auditEvents: AuditEventsService,
    jobs: ScheduledJobs,
  ) {
    jobs.every('prune expired rows', () => this.prune());
  }

  /**
   * Every instance runs this; the deletions go in bounded batches that skip rows another instance holds, so they
   * neither wait on each other nor lock a table for long (src/database/batched-delete.ts). What was pruned is
   * logged, by table: rows and batches. Every HOUSEKEEPING_INTERVAL (src/database/scheduled-jobs.ts).
   */
  async prune(): Promise<Record<string, Pruned | number>> {
    const pruned = {
      ...(await this.grants.pruneExpired()),
      signingKeys: await this.keys.pruneRetired(),
      auditEvents: await this.auditEvents.pruneExpired(),
    };
    this.metrics.pruned('authorization_codes', pruned.codes.rows);
    this.metrics.pruned('refresh_tokens', pruned.refreshTokens.rows);
    this.metrics.pruned('revoked_access_tokens', pruned.revokedAccessTokens.rows);
    this.metrics.pruned('signing_keys', pruned.signingKeys);
    this.metrics.pruned('audit_events', pruned.auditEvents.rows);
    this.logger.log(pruned, 'pruned expired rows');
    return pruned;
  }
}
