import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { deleteInBatches, Pruned } from '../database/batched-delete';
import { returnedRows } from '../common/database';
import { EntityManager, IsNull, Not, Repository } from 'typeorm';
import { Clock } from '../common/clock';
import { CryptoService } from '../common/crypto/crypto.service';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { PreparedStatements, prepared } from '../database/prepared-statements';
import { DeniedToken } from './access-token-deny-list.service';
import { AuthorizationCodeEntity } from './entities/authorization-code.entity';
import type { RedeemedCode } from './grants.service';
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

/** A redeemable code as the token request checks it, with what its redemption needs. */
export interface RedeemableCode extends RedeemedCode {
  readonly id: string;
  readonly grantId: string;
}

const INSERT_CODE = prepared('code-insert', `
  INSERT INTO authorization_codes (code_hash, app_id, user_id, grant_id, redirect_uri, redirect_uri_explicit, code_challenge,
                                   code_challenge_method, scopes, nonce, resources, auth_time, expires_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`);

const FIND_REDEEMABLE = prepared('code-find-redeemable', `
  SELECT id, grant_id AS "grantId", app_id AS "appId", user_id AS "userId", redirect_uri AS "redirectUri",
         redirect_uri_explicit AS "redirectUriExplicit", code_challenge AS "codeChallenge", scopes, nonce, resources, auth_time AS "authTime"
    FROM authorization_codes
   WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > now()`);

const REDEEM = prepared('code-redeem', `
  WITH code AS (
    UPDATE authorization_codes SET consumed_at = now(), access_token_jti = $2::text, access_token_expires_at = $3::timestamptz
     WHERE id = $1::uuid AND consumed_at IS NULL AND expires_at > now()
     RETURNING id, grant_id, app_id, user_id, scopes, resources, auth_time
  ), refresh AS (
    INSERT INTO refresh_tokens (token_hash, family_id, grant_id, app_id, user_id, authorization_code_id, scopes, resources, auth_time,
                                access_token_jti, access_token_expires_at, expires_at)
    SELECT $4::text, gen_random_uuid(), grant_id, app_id, user_id, id, scopes, resources, auth_time, $2::text, $3::timestamptz, $5::timestamptz
      FROM code WHERE $4::text IS NOT NULL
  )
  SELECT id FROM code`);

/** Authorization codes (SPEC §3): 256 random bits, stored only as a SHA-256 hash, single use, AUTH_CODE_TTL. */
@Injectable()
export class AuthorizationCodesService {
  constructor(
    @InjectRepository(AuthorizationCodeEntity) private readonly codes: Repository<AuthorizationCodeEntity>,
    private readonly sql: PreparedStatements,
    private readonly crypto: CryptoService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Stores a new code bound to everything the token request must match; answers the raw code, never stored. */
  async issue(code: NewAuthorizationCode): Promise<string> {
    const raw = this.crypto.randomToken(32);
    const expiresAt = new Date(this.clock.now().getTime() + this.config.authorizationServer.authCodeTtl * 1000);
    await this.sql.rows(INSERT_CODE, [
      this.crypto.sha256Hex(raw), code.appId, code.userId, code.grantId, code.redirectUri, code.redirectUriExplicit, code.codeChallenge,
      code.codeChallengeMethod, [...code.scopes], code.nonce, [...code.resources], code.authTime, expiresAt,
    ]);
    return raw;
  }

  /** A code that can still be redeemed (not yet, and not expired): statement 1 of an exchange. */
  async findRedeemable(raw: string): Promise<RedeemableCode | undefined> {
    if (raw.length > 128) return undefined;
    const [code] = await this.sql.rows<RedeemableCode>(FIND_REDEEMABLE, [this.crypto.sha256Hex(raw)]);
    return code;
  }

  /**
   * Statement 2 of an exchange, and the only write: ONE statement marks the code consumed, records the access
   * token minted from it and inserts the first refresh token of a new family, so of N concurrent redemptions
   * exactly one gets the row (SPEC §4) and nothing is ever half-written. A concurrent replay waits for the row and
   * then sees the tokens it must revoke. Answers false when another redemption (or a revocation) came first.
   */
  async redeem(code: RedeemableCode, token: { jti: string; expiresAt: Date }, refreshTokenHash: string | undefined): Promise<boolean> {
    const refreshExpiresAt = new Date(this.clock.now().getTime() + this.config.authorizationServer.refreshTokenTtl * 1000);
    const rows = await this.sql.rows(REDEEM, [code.id, token.jti, token.expiresAt, refreshTokenHash ?? null, refreshExpiresAt]);
    return rows.length === 1;
  }

  /** A code that was already redeemed, presented again: a replay. */
  findConsumed(raw: string): Promise<AuthorizationCodeEntity | null> {
    if (raw.length > 128) return Promise.resolve(null);
    return this.codes.findOneBy({ codeHash: this.crypto.sha256Hex(raw), consumedAt: Not(IsNull()) });
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

  pruneExpired(): Promise<Pruned> {
    // Consumed codes are kept as long as a replay could still matter: an hour past the code's expiry, and as long as
    // the access token it minted lives (deleting the row would deny that token: migration TokensDieWithTheirSource).
    const now = this.clock.now();
    return deleteInBatches(this.codes.manager, 'authorization_codes', 'id',
      'expires_at < $1 AND (access_token_expires_at IS NULL OR access_token_expires_at <= $2)', [new Date(now.getTime() - 3600_000), now]);
  }
}

function mintedBy(result: unknown): DeniedToken[] {
  const rows = returnedRows<{ access_token_jti: string | null; access_token_expires_at: Date | null }>(result);
  return accessTokensOf(rows.map((r) => ({ accessTokenJti: r.access_token_jti, accessTokenExpiresAt: r.access_token_expires_at })));
}
