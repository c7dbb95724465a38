import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Pruned } from '../database/batched-delete';
import { DataSource, Repository } from 'typeorm';
import { Clock } from '../common/clock';
import { CryptoService } from '../common/crypto/crypto.service';
import { Metrics } from '../common/metrics/metrics';
import { isDeadlock, returnedRows } from '../common/database';
import { PreparedStatements, prepared } from '../database/prepared-statements';
import { UsageWriteBehind } from '../database/write-behind';
import { invalidGrant } from '../common/oauth/oauth-error';
import { isUuid } from '../common/uuid';
import { userActor } from '../identity/audit/actors';
import { AuditEventInput, AuditTrail } from '../identity/audit/audit-trail.service';
import { UserCredentialHooks, UserTokenRevoker } from '../identity/users/user-credential-hooks';
import { AccessTokenDenyList } from './access-token-deny-list.service';
import { AuthorizationCodesService, NewAuthorizationCode } from './authorization-codes.service';
import { clientIdOf } from './client-id-of';
import { GrantEntity } from './entities/grant.entity';
import { accessTokensOf, RecordedAccessToken, RefreshTokensService } from './refresh-tokens.service';

export type { RecordedAccessToken } from './refresh-tokens.service';

/** Consent remembered for a user and an app (SPEC §3): its grant. */
export interface Consent {
  readonly id: string;
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
}

const FIND_CONSENT = prepared('grant-find-consent', 'SELECT id, scopes, resources FROM grants WHERE user_id = $1 AND app_id = $2');
const COUNT_USERS = prepared('grant-count-users', 'SELECT count(*)::int AS count FROM grants WHERE app_id = $1');

/** An access token as the grants module records it: enough to deny it later. */
export interface IssuedAccessToken {
  readonly jti: string;
  readonly expiresAt: Date;
}

/** What a redeemed authorization code was bound to (SPEC §3), for the token request to match. */
export interface RedeemedCode {
  readonly appId: string;
  readonly userId: string;
  readonly redirectUri: string;
  readonly redirectUriExplicit: boolean;
  readonly codeChallenge: string | null;
  readonly scopes: readonly string[];
  readonly nonce: string | null;
  readonly resources: readonly string[];
  readonly authTime: Date;
}

/** What the token endpoint minted from a code: the access token, and whether a refresh token goes with it. */
export interface CodeMint<T> {
  readonly accessToken: IssuedAccessToken;
  readonly withRefreshToken: boolean;
  readonly value: T;
}

/** A live refresh token being rotated. */
export interface PresentedRefreshToken {
  readonly appId: string;
  readonly userId: string;
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
  readonly authTime: Date | null;
}

/** What the token endpoint minted from a refresh token; `scopes` are the new refresh token's. */
export interface RefreshMint<T> {
  readonly accessToken: IssuedAccessToken;
  readonly scopes: readonly string[];
  readonly value: T;
}

/** A live refresh token, as introspection describes it (RFC 7662). */
export interface LiveRefreshToken {
  readonly appId: string;
  readonly userId: string;
  readonly scopes: readonly string[];
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/**
 * The one owner of the life of what this server issues (SPEC §7 "every token dies with what it came from"):
 * consent memory, codes, refresh-token families and denied access tokens. Each operation owns its transaction
 * and its cascade, so no caller holds a transaction of ours, and single use, replay → revoke and reuse → revoke
 * are written once, here, beside the state they protect.
 *
 * Deletions that cascade from elsewhere (an app or a user removed, the DCR sweep) deny the access tokens of the
 * deleted rows in the same transaction, through the database trigger of migration TokensDieWithTheirSource.
 */
@Injectable()
export class GrantsService implements OnModuleInit, OnApplicationShutdown, UserTokenRevoker {
  private readonly logger = new Logger(GrantsService.name);
  private readonly usage: UsageWriteBehind;

  constructor(
    @InjectRepository(GrantEntity) private readonly grants: Repository<GrantEntity>,
    private readonly dataSource: DataSource,
    private readonly codes: AuthorizationCodesService,
    private readonly refreshTokens: RefreshTokensService,
    private readonly denyList: AccessTokenDenyList,
    private readonly userHooks: UserCredentialHooks,
    private readonly clock: Clock,
    private readonly crypto: CryptoService,
    private readonly sql: PreparedStatements,
    private readonly metrics: Metrics,
    private readonly audit: AuditTrail,
  ) {
    this.usage = new UsageWriteBehind('grants', (sql, params) => this.grants.query(sql, params));
  }

  onModuleInit(): void {
    this.userHooks.register(this);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.usage.stop();
  }

  // --- Consent memory (SPEC §3) ---------------------------------------------------------------------------------

  /** What the user consented to for the app, if anything (read on every authorization request). */
  async find(userId: string, appId: string): Promise<Consent | null> {
    const [row] = await this.sql.rows<Consent>(FIND_CONSENT, [userId, appId]);
    return row ?? null;
  }

  /** How many people have connected the app (one grant per user and app): the consent page shows it. */
  async countUsers(appId: string): Promise<number> {
    const [row] = await this.sql.rows<{ count: number }>(COUNT_USERS, [appId]);
    return row?.count ?? 0;
  }

  /**
   * Records consent; scopes and resources are added to any earlier grant (SPEC §3), atomically under concurrent
   * consents. The user's decision is `consent.granted` in the audit trail, in the same transaction.
   */
  async record(
    user: { readonly id: string; readonly username: string }, app: { readonly id: string; readonly clientId: string },
    scopes: readonly string[], resources: readonly string[],
  ): Promise<Consent> {
    return this.dataSource.transaction(async (tx) => {
      const rows: Consent[] = await tx.query(
        `INSERT INTO grants (user_id, app_id, scopes, resources) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, app_id) DO UPDATE
           SET scopes = ARRAY(SELECT DISTINCT s FROM unnest(grants.scopes || EXCLUDED.scopes) AS s ORDER BY s),
               resources = ARRAY(SELECT DISTINCT r FROM unnest(grants.resources || EXCLUDED.resources) AS r ORDER BY r),
               updated_at = now()
         RETURNING id, scopes, resources`,
        [user.id, app.id, [...scopes], [...resources]],
      );
      await this.audit.record(tx, {
        type: 'consent.granted', actor: userActor(user), subjectUserId: user.id, clientId: app.clientId,
        details: { scopes: [...scopes], resources: [...resources] },
      });
      return rows[0];
    });
  }

  /** Records that the app used the grant (shown on /account/apps); written behind. */
  markUsed(grantId: string): void {
    this.usage.record(grantId, this.clock.now());
  }

  /** Writes this instance's pending `last_used_at` of grants, before anything shows them. */
  flushUsage(): Promise<void> {
    return this.usage.flush();
  }

  // --- Codes (RFC 6749 §4.1.2, §4.1.3) ---------------------------------------------------------------------------

  issueCode(code: NewAuthorizationCode): Promise<string> {
    return this.codes.issue(code);
  }

  /**
   * Redeems a code exactly once (SPEC §4), in two statements: the code is read, `mint` checks the request against
   * it and signs (a refusal — wrong client, redirect_uri, verifier, resource — writes nothing and leaves the code
   * as it was), then ONE statement consumes it, records the access token and starts the refresh-token family. Of
   * N concurrent redemptions exactly one succeeds. A code presented after it was redeemed is a replay: whoever
   * holds it now, nothing it minted stays alive (RFC 6749 §4.1.2).
   */
  async redeemCode<T>(raw: string, mint: (code: RedeemedCode) => Promise<CodeMint<T>>): Promise<{ value: T; refreshToken?: string }> {
    const code = await this.codes.findRedeemable(raw);
    if (code) {
      const minted = await mint(code);
      const refreshToken = minted.withRefreshToken ? this.crypto.randomToken(32) : undefined;
      if (await this.codes.redeem(code, minted.accessToken, refreshToken && this.crypto.sha256Hex(refreshToken))) {
        this.markUsed(code.grantId);
        return { value: minted.value, refreshToken };
      }
    }
    await this.revokeReplayedCode(raw);
    throw invalidGrant('the authorization code is invalid, expired or already used');
  }

  // --- Refresh tokens (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2) -------------------------------------------------------

  /**
   * Rotates a live refresh token of this app: `mint` signs the new access token within the rotation (a refusal
   * rolls it back and leaves the token usable). A rotated token presented again revokes its whole family — unless,
   * within the grace window, it is answered again: then `mint` is given the successor and the access token recorded
   * beside it, which it must sign again as it was (`reissue`).
   */
  async rotateRefreshToken<T>(
    raw: string, appId: string, mint: (basis: PresentedRefreshToken, reissue?: RecordedAccessToken) => Promise<RefreshMint<T>>,
  ): Promise<{ value: T; refreshToken: string }> {
    const result = await this.refreshTokens.rotate(raw, appId, async (basis, reissue) => {
      const minted = await mint(basis, reissue);
      return { accessTokenJti: minted.accessToken.jti, accessTokenExpiresAt: minted.accessToken.expiresAt, scopes: minted.scopes, value: minted.value };
    });
    if (!result.ok) {
      if (result.reason === 'reused') {
        this.metrics.refreshTokenReused();
        this.logger.warn({ appId }, 'rotated refresh token reused: its family is revoked');
      }
      throw invalidGrant('the refresh token is invalid, expired, revoked or already used', result.reason);
    }
    if (result.again) {
      this.metrics.refreshTokenGraceAnswered();
      this.logger.log({ appId }, 'rotated refresh token presented again within the grace window: its successor is answered again');
    }
    this.markUsed(result.basis.grantId);
    return { value: result.minted.value, refreshToken: result.refreshToken };
  }

  /** The live refresh token behind a raw value, if any. */
  async findLiveRefreshToken(raw: string): Promise<LiveRefreshToken | undefined> {
    const token = await this.refreshTokens.findLive(raw);
    return token ? { appId: token.appId, userId: token.userId, scopes: token.scopes, issuedAt: token.createdAt, expiresAt: token.expiresAt } : undefined;
  }

  /**
   * RFC 7009 §2.1 for a refresh token: the app's own token revokes its family; another app's changes nothing.
   * Answers false when the value is no refresh token of this server at all.
   */
  async revokeRefreshToken(raw: string, appId: string): Promise<boolean> {
    const token = await this.refreshTokens.findByRaw(raw);
    if (!token) return false;
    if (token.appId === appId) await this.refreshTokens.revokeFamilies([token.familyId]);
    return true;
  }

  // --- Revocation ------------------------------------------------------------------------------------------------

  /** An access token is denied by `jti` until it expires, on every instance (SPEC §4). */
  async denyAccessToken(token: IssuedAccessToken): Promise<void> {
    await this.denyList.deny([token]);
  }

  isAccessTokenDenied(jti: string): boolean {
    return this.denyList.isDenied(jti);
  }

  /**
   * Revokes a user's grant: every refresh token and every live access token issued under it die, and the grant is
   * gone, so the next authorization asks for consent again. Unknown or another user's id: nothing happens.
   */
  async revokeGrant(userId: string, grantId: string): Promise<void> {
    if (!isUuid(grantId) || !(await this.grants.existsBy({ id: grantId, userId }))) return;
    // Lock order matters: refresh tokens first (a rotation holds its token, then takes key-share locks on the
    // code and the grant), then codes (an exchange holds its code, then takes the grant), then the grant. The
    // other order deadlocks with a concurrent refresh.
    const denied = await retryOnDeadlock(() => this.dataSource.transaction(async (tx) => {
      const { denied: refreshed } = await this.refreshTokens.revokeWhere('grant_id = $1', [grantId], tx);
      const deleted = await this.codes.deleteForGrant(grantId, tx);
      const [grant] = returnedRows<{ client_id: string; scopes: string[] }>(await tx.query(
        `DELETE FROM grants g USING apps a WHERE g.id = $1 AND g.user_id = $2 AND a.id = g.app_id RETURNING a.client_id, g.scopes`,
        [grantId, userId],
      ));
      // A concurrent revocation of the same grant got there first: it records the event.
      if (grant) {
        await this.audit.record(tx, { type: 'grant.revoked', subjectUserId: userId, clientId: grant.client_id, details: { grant_id: grantId, scopes: grant.scopes } });
      }
      return [...refreshed, ...deleted];
    }));
    // Committed: the deletion's trigger denied the codes' tokens and told every instance; this one knows at once.
    this.denyList.remember(denied);
  }

  /**
   * Revokes refresh-token families and the access tokens issued with them, and records `event` (given how many live
   * sessions ended) in the same transaction; answers how many live sessions ended.
   */
  async revokeFamilies(familyIds: readonly string[], event: (ended: number) => AuditEventInput): Promise<number> {
    const revoked = await retryOnDeadlock(() => this.dataSource.transaction(async (tx) => {
      const result = familyIds.length > 0
        ? await this.refreshTokens.revokeWhere('family_id = ANY($1::uuid[])', [[...familyIds]], tx)
        : { ended: 0, denied: [] };
      await this.audit.record(tx, event(result.ended));
      return result;
    }));
    this.denyList.remember(revoked.denied);
    return revoked.ended;
  }

  /**
   * Everything a user holds dies — their role or password changed (SPEC §7): every refresh-token family, and the
   * access tokens minted from them and from their codes. Their grants (what they consented to) stay.
   */
  async revokeUserTokens(userId: string): Promise<void> {
    const denied = await retryOnDeadlock(() => this.dataSource.transaction(async (tx) => {
      // Codes first: a redemption in flight holds its code, so this waits for it to commit, and the refresh token
      // it issued is then visible to the revocation below.
      const codeTokens = await this.codes.retireForUser(userId, tx);
      const { denied: refreshed } = await this.refreshTokens.revokeWhere('user_id = $1', [userId], tx);
      return [...refreshed, ...(await this.denyList.deny(codeTokens, tx))];
    }));
    this.denyList.remember(denied);
  }

  /** Expired rows (SPEC §6). */
  async pruneExpired(): Promise<{ codes: Pruned; refreshTokens: Pruned; successorKeys: Pruned; revokedAccessTokens: Pruned }> {
    return {
      codes: await this.codes.pruneExpired(),
      refreshTokens: await this.refreshTokens.pruneExpired(),
      successorKeys: await this.refreshTokens.forgetSuccessorKeys(),
      revokedAccessTokens: await this.denyList.pruneExpired(),
    };
  }

  /** A code presented after it was redeemed: the families it started and its access token die. */
  private async revokeReplayedCode(raw: string): Promise<void> {
    const code = await this.codes.findConsumed(raw);
    if (!code) return;
    const denied = await this.dataSource.transaction(async (tx) => {
      const { ended, denied: refreshed } = await this.refreshTokens.revokeWhere('authorization_code_id = $1', [code.id], tx);
      const deniedCode = await this.denyList.deny(accessTokensOf([code]), tx);
      await this.audit.record(tx, {
        type: 'authorization_code.replay_detected', subjectUserId: code.userId, clientId: await clientIdOf(tx, code.appId),
        details: { grant_id: code.grantId, sessions_revoked: ended },
      });
      return [...refreshed, ...deniedCode];
    });
    this.denyList.remember(denied);
    this.metrics.authorizationCodeReplayed();
    this.logger.warn({ appId: code.appId, userId: code.userId }, 'authorization code replayed: its tokens are revoked');
  }
}

/**
 * Revocations by user, grant and family lock overlapping refresh-token rows in different orders; when two meet,
 * PostgreSQL aborts one (40P01). Each is idempotent, so the aborted one simply runs again.
 */
async function retryOnDeadlock<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      if (attempt >= attempts || !isDeadlock(e)) throw e;
    }
  }
}
