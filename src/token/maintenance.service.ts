import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { AccessTokenDenyList } from '../grants/access-token-deny-list.service';
import { AuthorizationCodesService } from '../grants/authorization-codes.service';
import { RefreshTokensService } from '../grants/refresh-tokens.service';
import { SigningKeysService } from './signing-keys.service';

const EVERY_MS = 10 * 60 * 1000;

/** Expired rows are pruned (SPEC §6): codes, refresh tokens, denied jtis and keys no token can need. */
@Injectable()
export class MaintenanceService {
  private readonly logger = new Logger(MaintenanceService.name);

  constructor(
    private readonly codes: AuthorizationCodesService,
    private readonly refreshTokens: RefreshTokensService,
    private readonly denyList: AccessTokenDenyList,
    private readonly keys: SigningKeysService,
  ) {}

  @Interval(EVERY_MS)
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
