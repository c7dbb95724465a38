import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { deleteInBatches, Pruned } from '../database/batched-delete';
import { returnedRows } from '../common/database';
import { DataSource, EntityManager, IsNull, MoreThan, Repository } from 'typeorm';
import { PreparedStatements, prepared } from '../database/prepared-statements';
import { Clock } from '../common/clock';
import { CryptoService } from '../common/crypto/crypto.service';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { AccessTokenDenyList, DeniedToken } from './access-token-deny-list.service';
import { RefreshTokenEntity } from './entities/refresh-token.entity';

/** The access token minted beside a new refresh token, and the scopes the new refresh token carries. */
export interface ChildMint {
  readonly accessTokenJti: string;
  readonly accessTokenExpiresAt: Date;
  readonly scopes: readonly string[];
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
    UPDATE refresh_tokens SET rotated_at = now()
     WHERE id = $1::uuid AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > now()
     RETURNING id, family_id, grant_id, app_id, user_id, authorization_code_id, resources, auth_time
  )
  INSERT INTO refresh_tokens (token_hash, family_id, parent_id, grant_id, app_id, user_id, authorization_code_id, scopes, resources, auth_time,
                              access_token_jti, access_token_expires_at, expires_at)
  SELECT $2::text, family_id, id, grant_id, app_id, user_id, authorization_code_id, $3::text[], resources, auth_time, $4::text, $5::timestamptz, $6::timestamptz
    FROM parent
  RETURNING id`);

export type RotationResult =
  | { readonly ok: true; readonly parent: RotatableToken; readonly refreshToken: string }
  | { readonly ok: false; readonly reason: 'unknown' | 'expired' | 'foreign' | 'reused' };

/**
 * Refresh tokens (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2): 256 random bits stored as SHA-256, rotated on every use.
 * Rotation is one conditional UPDATE and the child's INSERT in one statement, so of N concurrent uses exactly
 * one wins, and a loser that then revokes the family also revokes the winner's child.
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
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Rotates the presented token in two statements: it is read, `mintChild` signs the new access token (given the
   * parent; a refusal writes nothing and leaves the token usable), then ONE statement marks it rotated and inserts
   * its child, only if it is still live. Of N concurrent uses exactly one wins; a token presented again after
   * rotation — or beaten to it by a concurrent use — revokes its whole family.
   */
  async rotate(raw: string, appId: string, mintChild: (parent: RotatableToken) => Promise<ChildMint>): Promise<RotationResult> {
    const hash = this.crypto.sha256Hex(raw);
    const [parent] = await this.sql.rows<RotatableToken>(FIND_ROTATABLE, [hash, appId]);
    if (parent) {
      const child = await mintChild(parent);
      const refreshToken = this.crypto.randomToken(32);
      const expiresAt = new Date(this.clock.now().getTime() + this.config.authorizationServer.refreshTokenTtl * 1000);
      // RFC 6749 §6: the new refresh token keeps the scope of the one it replaces (only the access token narrows),
      // less what the user's role or the app no longer allows (SPEC §4): `child.scopes`.
      const rotated = await this.sql.rows(ROTATE, [parent.id, this.crypto.sha256Hex(refreshToken), [...child.scopes], child.accessTokenJti, child.accessTokenExpiresAt, expiresAt]);
      if (rotated.length === 1) return { ok: true, parent, refreshToken };
    }

    const existing = await this.tokens.findOneBy({ tokenHash: hash });
    if (!existing) return { ok: false, reason: 'unknown' };
    if (existing.appId !== appId) return { ok: false, reason: 'foreign' };
    if (existing.rotatedAt || existing.revokedAt) {
      await this.revokeFamilies([existing.familyId]);
      return { ok: false, reason: 'reused' };
    }
    return { ok: false, reason: 'expired' };
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

  /** Expired tokens whose access token is dead too (deleting a row denies a live one, by the trigger). */
  pruneExpired(): Promise<Pruned> {
    return deleteInBatches(this.tokens.manager, 'refresh_tokens', 'id',
      'expires_at < $1 AND (access_token_expires_at IS NULL OR access_token_expires_at <= $1)', [this.clock.now()]);
  }
}

export function accessTokensOf(rows: readonly { accessTokenJti: string | null; accessTokenExpiresAt: Date | null }[]): DeniedToken[] {
  return rows.flatMap((r) => (r.accessTokenJti && r.accessTokenExpiresAt ? [{ jti: r.accessTokenJti, expiresAt: r.accessTokenExpiresAt }] : []));
}
