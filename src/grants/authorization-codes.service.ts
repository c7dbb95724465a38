import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { returnedRows } from '../common/database';
import { EntityManager, IsNull, Not, Repository } from 'typeorm';
import { Clock } from '../common/clock';
import { CryptoService } from '../common/crypto/crypto.service';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { DeniedToken } from './access-token-deny-list.service';
import { AuthorizationCodeEntity } from './entities/authorization-code.entity';
import { accessTokensOf } from './refresh-tokens.service';

export interface NewAuthorizationCode {
  readonly appId: string;
  readonly userId: string;
  readonly grantId: string;
  readonly redirectUri: string;
  readonly redirectUriExplicit: boolean;
  readonly codeChallenge: string | null;
  readonly codeChallengeMethod: string | null;
  readonly scopes: readonly string[];
  readonly nonce: string | null;
  readonly resources: readonly string[];
  readonly authTime: Date;
}

/** Authorization codes (SPEC §3): 256 random bits, stored only as a SHA-256 hash, single use, AUTH_CODE_TTL. */
@Injectable()
export class AuthorizationCodesService {
  constructor(
    @InjectRepository(AuthorizationCodeEntity) private readonly codes: Repository<AuthorizationCodeEntity>,
    private readonly crypto: CryptoService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Stores a new code bound to everything the token request must match; answers the raw code, never stored. */
  async issue(code: NewAuthorizationCode): Promise<string> {
    const raw = this.crypto.randomToken(32);
    const expiresAt = new Date(this.clock.now().getTime() + this.config.authorizationServer.authCodeTtl * 1000);
    await this.codes.insert({
      ...code,
      scopes: [...code.scopes],
      resources: [...code.resources],
      codeHash: this.crypto.sha256Hex(raw),
      expiresAt,
    });
    return raw;
  }

  /**
   * Redeems a code: ONE conditional UPDATE marks it consumed and returns it, so of N concurrent redemptions
   * exactly one gets the row (SPEC §4). Run it in the transaction that then issues the tokens: a concurrent
   * replay waits for that commit and then sees the tokens it must revoke.
   */
  async consume(raw: string, manager: EntityManager): Promise<AuthorizationCodeEntity | undefined> {
    if (raw.length > 128) return undefined;
    const rows = returnedRows<{ id: string }>(await manager.query(
      `UPDATE authorization_codes SET consumed_at = now()
        WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > now()
        RETURNING id`,
      [this.crypto.sha256Hex(raw)],
    ));
    return rows.length === 1 ? manager.findOneByOrFail(AuthorizationCodeEntity, { id: rows[0].id }) : undefined;
  }

  /** A code that was already redeemed, presented again: a replay. */
  findConsumed(raw: string): Promise<AuthorizationCodeEntity | null> {
    if (raw.length > 128) return Promise.resolve(null);
    return this.codes.findOneBy({ codeHash: this.crypto.sha256Hex(raw), consumedAt: Not(IsNull()) });
  }

  recordAccessToken(codeId: string, token: { jti: string; expiresAt: Date }, manager: EntityManager): Promise<unknown> {
    return manager.update(AuthorizationCodeEntity, { id: codeId }, { accessTokenJti: token.jti, accessTokenExpiresAt: token.expiresAt });
  }

  /**
   * Deletes a grant's codes (revoking the grant); answers the access tokens they minted. The deletion's trigger
   * (migration TokensDieWithTheirSource) has denied them in the same transaction.
   */
  async deleteForGrant(grantId: string, manager: EntityManager): Promise<DeniedToken[]> {
    return mintedBy(await manager.query('DELETE FROM authorization_codes WHERE grant_id = $1 RETURNING access_token_jti, access_token_expires_at', [grantId]));
  }

  /** Ends a user's codes: those not redeemed can no longer be; answers the access tokens the others minted. */
  async retireForUser(userId: string, manager: EntityManager): Promise<DeniedToken[]> {
    return mintedBy(await manager.query(
      `UPDATE authorization_codes SET consumed_at = coalesce(consumed_at, now()) WHERE user_id = $1
       RETURNING access_token_jti, access_token_expires_at`,
      [userId],
    ));
  }

  async pruneExpired(): Promise<number> {
    // Consumed codes are kept as long as a replay could still matter: an hour past the code's expiry, and as long as
    // the access token it minted lives (deleting the row would deny that token: migration TokensDieWithTheirSource).
    const now = this.clock.now();
    const rows = returnedRows<{ id: string }>(await this.codes.query(
      `DELETE FROM authorization_codes WHERE expires_at < $1 AND (access_token_expires_at IS NULL OR access_token_expires_at <= $2) RETURNING id`,
      [new Date(now.getTime() - 3600_000), now],
    ));
    return rows.length;
  }
}

function mintedBy(result: unknown): DeniedToken[] {
  const rows = returnedRows<{ access_token_jti: string | null; access_token_expires_at: Date | null }>(result);
  return accessTokensOf(rows.map((r) => ({ accessTokenJti: r.access_token_jti, accessTokenExpiresAt: r.access_token_expires_at })));
}
