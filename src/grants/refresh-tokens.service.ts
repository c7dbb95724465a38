import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { deleteInBatches, Pruned, updateInBatches } from '../database/batched-delete';
import { returnedRows } from '../common/database';
import { DataSource, EntityManager, IsNull, MoreThan, Repository } from 'typeorm';
import { PreparedStatements, prepared } from '../database/prepared-statements';
import { Clock } from '../common/clock';
import { CryptoService } from '../common/crypto/crypto.service';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { AuditTrail } from '../identity/audit/audit-trail.service';
import { AccessTokenDenyList, DeniedToken } from './access-token-deny-list.service';
import { clientIdOf } from './client-id-of';
import { RefreshTokenEntity } from './entities/refresh-token.entity';

/** The access token minted beside a new refresh token, and the scopes the new refresh token carries. */
export interface ChildMint {
  readonly accessTokenJti: string;
  readonly accessTokenExpiresAt: Date;
  readonly scopes: readonly string[];
}

/** An access token's identity as it was recorded beside its refresh token, to sign it again unchanged. */
export interface RecordedAccessToken {
  readonly jti: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/** A live refresh token being rotated, as statement 1 of a rotation reads it. */
export interface RotatableToken {
  readonly id: string;
  readonly familyId: string;
  readonly grantId: string;
  readonly appId: string;
  readonly userId: string;
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
  readonly authTime: Date | null;
}

const FIND_ROTATABLE = prepared('refresh-find-rotatable', `
  SELECT id, family_id AS "familyId", grant_id AS "grantId", app_id AS "appId", user_id AS "userId", scopes, resources, auth_time AS "authTime"
    FROM refresh_tokens
   WHERE token_hash = $1 AND app_id = $2 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > now()`);

const ROTATE = prepared('refresh-rotate', `
  WITH parent AS (
    UPDATE refresh_tokens SET rotated_at = now(), successor_key = $7::bytea
     WHERE id = $1::uuid AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > now()
     RETURNING id, family_id, grant_id, app_id, user_id, authorization_code_id, resources, auth_time
  )
  INSERT INTO refresh_tokens (token_hash, family_id, parent_id, grant_id, app_id, user_id, authorization_code_id, scopes, resources, auth_time,
                              access_token_jti, access_token_expires_at, expires_at)
  SELECT $2::text, family_id, id, grant_id, app_id, user_id, authorization_code_id, $3::text[], resources, auth_time, $4::text, $5::timestamptz, $6::timestamptz
    FROM parent
  RETURNING id`);

/**
 * The live successor of a token this app rotated within the grace window, neither of them revoked, with the key it
 * was derived from; its access token must still be live too, so an answer never carries a dead one.
 */
const FIND_SUCCESSOR = prepared('refresh-find-successor', `
  SELECT p.successor_key AS "successorKey", c.token_hash AS "tokenHash",
         c.id, c.family_id AS "familyId", c.grant_id AS "grantId", c.app_id AS "appId", c.user_id AS "userId", c.scopes, c.resources, c.auth_time AS "authTime",
         c.access_token_jti AS "accessTokenJti", c.access_token_expires_at AS "accessTokenExpiresAt"
    FROM refresh_tokens p
    JOIN refresh_tokens c ON c.family_id = p.family_id AND c.parent_id = p.id
   WHERE p.token_hash = $1 AND p.app_id = $2 AND p.successor_key IS NOT NULL AND p.revoked_at IS NULL
     AND p.rotated_at > now() - make_interval(secs => $3)
     AND c.rotated_at IS NULL AND c.revoked_at IS NULL AND c.expires_at > now()
     AND c.access_token_jti IS NOT NULL AND c.access_token_expires_at > now()`);

interface Successor extends RotatableToken {
  readonly successorKey: Buffer;
  readonly tokenHash: string;
  readonly accessTokenJti: string;
  readonly accessTokenExpiresAt: Date;
}

/**
 * `basis` is the token whose scopes and resources the answer was minted from: the presented one, or, when a
 * rotation is answered again within the grace window (`again`), the successor it had produced.
 */
export type RotationResult<M extends ChildMint> =
  | { readonly ok: true; readonly basis: RotatableToken; readonly refreshToken: string; readonly minted: M; readonly again: boolean }
  | { readonly ok: false; readonly reason: 'unknown' | 'expired' | 'foreign' | 'reused' };

/**
 * Refresh tokens (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2): 256 bits stored as SHA-256, rotated on every use. Rotation
 * is one conditional UPDATE and the child's INSERT in one statement, so of N concurrent uses exactly one wins, and a
 * loser that then revokes the family also revokes the winner's child — unless a grace window
 * (OAUTH2_REFRESH_REUSE_GRACE) is set: then the child is derived from its parent and a random key kept on the
 * parent's row, and a loser, or a retry by the same client within the window, is answered the winner's child again.
 */
@Injectable()
export class RefreshTokensService {
  constructor(
    @InjectRepository(RefreshTokenEntity) private readonly tokens: Repository<RefreshTokenEntity>,
    private readonly dataSource: DataSource,
    private readonly sql: PreparedStatements,
    private readonly denyList: AccessTokenDenyList,
    private readonly crypto: CryptoService,
    private readonly clock: Clock,
    private readonly audit: AuditTrail,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Rotates the presented token in two statements: it is read, `mint` signs the new access token (given the parent;
   * a refusal writes nothing and leaves the token usable), then ONE statement marks it rotated and inserts its child,
   * only if it is still live. Of N concurrent uses exactly one wins; a token presented again after rotation — or
   * beaten to it by a concurrent use — revokes its whole family, unless the grace window answers it again.
   */
  async rotate<M extends ChildMint>(raw: string, appId: string, mint: (basis: RotatableToken, reissue?: RecordedAccessToken) => Promise<M>): Promise<RotationResult<M>> {
    const hash = this.crypto.sha256Hex(raw);
    const grace = this.config.authorizationServer.refreshReuseGrace;
    const [parent] = await this.sql.rows<RotatableToken>(FIND_ROTATABLE, [hash, appId]);
    if (parent) {
      const minted = await mint(parent);
      // Strict rotation: a random child. With a grace window, one that the parent's row and the parent token
      // together can reproduce, and neither alone: HMAC-SHA256 under a random key kept on the parent's row.
      const successorKey = grace > 0 ? this.crypto.randomKey(32) : null;
      const refreshToken = successorKey ? this.crypto.derivedToken(successorKey, raw) : this.crypto.randomToken(32);
      const expiresAt = new Date(this.clock.now().getTime() + this.config.authorizationServer.refreshTokenTtl * 1000);
      // RFC 6749 §6: the new refresh token keeps the scope of the one it replaces (only the access token narrows),
      // less what the user's role or the app no longer allows (SPEC §4): `minted.scopes`.
      const rotated = await this.sql.rows(ROTATE, [
        parent.id, this.crypto.sha256Hex(refreshToken), [...minted.scopes], minted.accessTokenJti, minted.accessTokenExpiresAt, expiresAt, successorKey,
      ]);
      if (rotated.length === 1) return { ok: true, basis: parent, refreshToken, minted, again: false };
      // Beaten by a concurrent use. Ours waited on the row lock until that one committed, so what it wrote (the
      // parent rotated, its child) is visible to the next statement; the access token minted here is dropped.
    }

    if (grace > 0) {
      const again = await this.answerAgain(raw, hash, appId, grace, mint);
      if (again) return again;
    }
    const existing = await this.tokens.findOneBy({ tokenHash: hash });
    if (!existing) return { ok: false, reason: 'unknown' };
    if (existing.appId !== appId) return { ok: false, reason: 'foreign' };
    if (existing.rotatedAt || existing.revokedAt) {
      await this.revokeReused(existing);
      return { ok: false, reason: 'reused' };
    }
    return { ok: false, reason: 'expired' };
  }

  /**
   * The grace window: the same app presenting a token it rotated less than OAUTH2_REFRESH_REUSE_GRACE ago, while
   * the successor is live, gets that rotation's answer again — the same successor, recomputed, and the access token
   * recorded beside it signed again with its `jti`, `iat` and `exp`, so the deny list still kills every copy.
   * Nothing is written: the family never forks, and no access token is issued that is not recorded. Anything else
   * (the window passed, the family moved on or was revoked, another app) is left to the strict rule.
   */
  private async answerAgain<M extends ChildMint>(
    raw: string, hash: string, appId: string, grace: number, mint: (basis: RotatableToken, reissue?: RecordedAccessToken) => Promise<M>,
  ): Promise<RotationResult<M> | undefined> {
    const [successor] = await this.sql.rows<Successor>(FIND_SUCCESSOR, [hash, appId, grace]);
    if (!successor) return undefined;
    const refreshToken = this.crypto.derivedToken(successor.successorKey, raw);
    if (!this.crypto.safeEqual(this.crypto.sha256Hex(refreshToken), successor.tokenHash)) return undefined; // not derived from this key
    const expiresAt = new Date(successor.accessTokenExpiresAt);
    // A rotation signs its access token for ACCESS_TOKEN_TTL exactly (never cut by `notAfter`), so its `iat` was
    // its `exp` less that; never later than now, should the setting have been shortened since.
    const issuedAt = new Date(Math.min(expiresAt.getTime() - this.config.authorizationServer.accessTokenTtl * 1000, this.clock.now().getTime()));
    const minted = await mint(successor, { jti: successor.accessTokenJti, issuedAt, expiresAt });
    if (minted.accessTokenJti !== successor.accessTokenJti) throw new Error('a rotation answered again must sign its recorded access token again');
    return { ok: true, basis: successor, refreshToken, minted, again: true };
  }

  /**
   * A used-up token presented again: its family dies. When it had been rotated, that is reuse (RFC 9700 §4.14.2:
   * the token was stolen, or the client is broken), recorded in the audit trail in the same transaction; a token
   * that was only revoked is a client that has not heard yet, and no event.
   */
  private async revokeReused(token: RefreshTokenEntity): Promise<void> {
    const revoked = await this.dataSource.transaction(async (tx) => {
      const result = await this.revokeWhere('family_id = $1', [token.familyId], tx);
      if (token.rotatedAt) {
        await this.audit.record(tx, {
          type: 'refresh_token.reuse_detected', subjectUserId: token.userId, clientId: await clientIdOf(tx, token.appId),
          details: { family_id: token.familyId, grant_id: token.grantId, sessions_revoked: result.ended },
        });
      }
      return result;
    });
    this.denyList.remember(revoked.denied);
  }

  /** The live token (not rotated, revoked or expired) behind a raw value. */
  findLive(raw: string): Promise<RefreshTokenEntity | null> {
    return this.tokens.findOneBy({ tokenHash: this.crypto.sha256Hex(raw), rotatedAt: IsNull(), revokedAt: IsNull(), expiresAt: MoreThan(this.clock.now()) });
  }

  findByRaw(raw: string): Promise<RefreshTokenEntity | null> {
    return this.tokens.findOneBy({ tokenHash: this.crypto.sha256Hex(raw) });
  }

  /** Revokes every token of the families and denies the access tokens issued with them; answers the sessions ended. */
  async revokeFamilies(familyIds: readonly string[]): Promise<number> {
    if (familyIds.length === 0) return 0;
    return (await this.revokeWhere('family_id = ANY($1::uuid[])', [[...familyIds]])).ended;
  }

  /**
   * Marks matching tokens revoked and denies their access tokens; answers how many live sessions ended and the
   * access tokens denied. Inside `manager`'s transaction, the caller `remember`s those once it commits. The
   * UPDATE repeats until it finds nothing: a rotation that committed while the first UPDATE waited for its row
   * inserted a child that statement's snapshot cannot see, and the next statement's snapshot can.
   */
  async revokeWhere(condition: string, params: unknown[], manager?: EntityManager): Promise<{ ended: number; denied: DeniedToken[] }> {
    const run = async (em: EntityManager) => {
      const now = this.clock.now();
      const revoked: { family_id: string; rotated_at: Date | null; expires_at: Date; access_token_jti: string | null; access_token_expires_at: Date | null }[] = [];
      for (;;) {
        const rows = returnedRows<(typeof revoked)[number]>(await em.query(
          `UPDATE refresh_tokens SET revoked_at = now() WHERE ${condition} AND revoked_at IS NULL
           RETURNING family_id, rotated_at, expires_at, access_token_jti, access_token_expires_at`,
          params,
        ));
        if (rows.length === 0) break;
        revoked.push(...rows);
      }
      const denied = await this.denyList.deny(accessTokensOf(revoked.map((r) => ({ accessTokenJti: r.access_token_jti, accessTokenExpiresAt: r.access_token_expires_at }))), em);
      return { ended: new Set(revoked.filter((r) => !r.rotated_at && new Date(r.expires_at) > now).map((r) => r.family_id)).size, denied };
    };
    if (manager) return run(manager);
    const revoked = await this.dataSource.transaction(run);
    this.denyList.remember(revoked.denied);
    return revoked;
  }

  /**
   * Successor keys whose grace window has passed can answer nothing any more: they are forgotten, so that a copy of
   * the database plus an old token leaked from a client cannot reproduce a live one. In bounded batches, like pruning.
   */
  forgetSuccessorKeys(): Promise<Pruned> {
    return updateInBatches(this.tokens.manager, 'refresh_tokens', 'id', 'successor_key = NULL',
      'successor_key IS NOT NULL AND rotated_at < now() - make_interval(secs => $1)', [this.config.authorizationServer.refreshReuseGrace]);
  }

  /** Expired tokens whose access token is dead too (deleting a row denies a live one, by the trigger). */
  pruneExpired(): Promise<Pruned> {
    return deleteInBatches(this.tokens.manager, 'refresh_tokens', 'id',
      'expires_at < $1 AND (access_token_expires_at IS NULL OR access_token_expires_at <= $1)', [this.clock.now()]);
  }
}

export function accessTokensOf(rows: readonly { accessTokenJti: string | null; accessTokenExpiresAt: Date | null }[]): DeniedToken[] {
  return rows.flatMap((r) => (r.accessTokenJti && r.accessTokenExpiresAt ? [{ jti: r.accessTokenJti, expiresAt: r.accessTokenExpiresAt }] : []));
}
