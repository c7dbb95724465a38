import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { GrantsService } from '../grants/grants.service';
import { SigningKeysService } from './signing-keys.service';

const EVERY_MS = 10 * 60 * 1000;

/** Expired rows are pruned (SPEC §6): codes, refresh tokens, denied jtis and keys no token can need. */
@Injectable()
export class MaintenanceService {
  private readonly logger = new Logger(MaintenanceService.name);

  constructor(
    private readonly grants: GrantsService,
    private readonly keys: SigningKeysService,
  ) {}

  @Interval(EVERY_MS)
  async prune(): Promise<Record<string, number>> {
    const pruned = {
      ...(await this.grants.pruneExpired()),
      signingKeys: await this.keys.pruneRetired(),
    };
    this.logger.debug(pruned, 'pruned expired rows');
    return pruned;
  }
}
