import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { AccessTokenDenyList } from '../grants/access-token-deny-list.service';
import { AuthorizationCodesService } from '../grants/authorization-codes.service';
import { RefreshTokensService } from '../grants/refresh-tokens.service';
import { SigningKeysService } from './signing-keys.service';

const EVERY_MS = 10 * 60 * 1000;

/** Expired rows are pruned (SPEC §6): codes, refresh tokens, denied jtis and keys no token can need. */
@Injectable()
export class MaintenanceService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(MaintenanceService.name);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly codes: AuthorizationCodesService,
    private readonly refreshTokens: RefreshTokensService,
    private readonly denyList: AccessTokenDenyList,
    private readonly keys: SigningKeysService,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.prune().catch((err) => this.logger.warn({ err }, 'pruning failed')), EVERY_MS).unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async prune(): Promise<Record<string, number>> {
    const pruned = {
      codes: await this.codes.pruneExpired(),
      refreshTokens: await this.refreshTokens.pruneExpired(),
      revokedAccessTokens: await this.denyList.pruneExpired(),
      signingKeys: await this.keys.pruneRetired(),
    };
    this.logger.debug(pruned, 'pruned expired rows');
    return pruned;
  }
}
