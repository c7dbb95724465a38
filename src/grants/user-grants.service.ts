import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, MoreThan, Repository } from 'typeorm';
import { Clock } from '../common/clock';
import { notFound } from '../common/problem/problem';
import { isUuid } from '../common/uuid';
import { AuthorizationDto, OAuthSessionDto, RevokeAllDto } from './dto/user-grants.dto';
import { GrantEntity } from './entities/grant.entity';
import { RefreshTokenEntity } from './entities/refresh-token.entity';
import { GrantsService } from './grants.service';

/**
 * What a user granted, and taking it back (SPEC §2 `/api/v0/users/me/…`). Every query is scoped by the user id,
 * so one user can neither see nor touch another's grants or sessions.
 */
@Injectable()
export class UserGrantsService {
  constructor(
    @InjectRepository(GrantEntity) private readonly grants: Repository<GrantEntity>,
    @InjectRepository(RefreshTokenEntity) private readonly refreshTokens: Repository<RefreshTokenEntity>,
    private readonly lifecycle: GrantsService,
    private readonly clock: Clock,
  ) {}

  async authorizations(userId: string): Promise<{ items: AuthorizationDto[] }> {
    return { items: (await this.grantsWithApps(userId)).map((g) => toAuthorization(g)) };
  }

  /** The grant with its app and last use, for the connected-apps page. */
  async grantsWithApps(userId: string): Promise<GrantEntity[]> {
    await this.lifecycle.flushUsage();
    return this.grants.find({ where: { userId }, relations: { app: true }, order: { createdAt: 'ASC' } });
  }

  /** Revokes a grant and everything issued under it (SPEC §2); unknown or another user's id: nothing happens. */
  revokeAuthorization(userId: string, grantId: string): Promise<void> {
    return this.lifecycle.revokeGrant(userId, grantId);
  }

  /** Live refresh-token families of the user. */
  async sessions(userId: string): Promise<OAuthSessionDto[]> {
    const live = await this.liveTokens(userId);
    const firstOfFamily = await this.refreshTokens.createQueryBuilder('t')
      .select('t.familyId', 'familyId').addSelect('min(t.createdAt)', 'createdAt')
      .where('t.familyId IN (:...families)', { families: live.length ? live.map((t) => t.familyId) : ['00000000-0000-0000-0000-000000000000'] })
      .groupBy('t.familyId').getRawMany<{ familyId: string; createdAt: Date }>();
    const started = new Map(firstOfFamily.map((r) => [r.familyId, new Date(r.createdAt)]));
    return live.map((t) => ({
      token_id: t.familyId,
      client_name: t.app?.displayName ?? t.app?.name ?? '',
      client_id: t.app?.clientId ?? '',
      created_at: Math.floor((started.get(t.familyId) ?? t.createdAt).getTime() / 1000),
      scope: t.scopes.join(' '),
    }));
  }

  async revokeSession(userId: string, familyId: string): Promise<void> {
    // One statement: a rotation racing this replaces the live token atomically, and a second read could miss both.
    const live = isUuid(familyId)
      ? await this.refreshTokens.createQueryBuilder('t').innerJoin('t.app', 'app').select('app.clientId', 'clientId')
        .where('t.familyId = :familyId AND t.userId = :userId', { familyId, userId })
        .andWhere('t.revokedAt IS NULL AND t.rotatedAt IS NULL AND t.expiresAt > :now', { now: this.clock.now() })
        .limit(1).getRawOne<{ clientId: string }>()
      : undefined;
    if (!live) throw notFound('No such session');
    await this.lifecycle.revokeFamilies([familyId], () => ({
      type: 'session.revoked', subjectUserId: userId, clientId: live.clientId, details: { family_id: familyId },
    }));
  }

  async revokeAllSessions(userId: string): Promise<RevokeAllDto> {
    const live = await this.liveTokens(userId);
    const families = [...new Set(live.map((t) => t.familyId))];
    await this.lifecycle.revokeFamilies(families, () => ({
      type: 'sessions.revoked_all', subjectUserId: userId,
      details: { count: families.length, client_ids: [...new Set(live.map((t) => t.app?.clientId ?? ''))].filter(Boolean) },
    }));
    return { message: `Revoked ${families.length} session${families.length === 1 ? '' : 's'}`, count: families.length };
  }

  private liveTokens(userId: string): Promise<RefreshTokenEntity[]> {
    return this.refreshTokens.find({ where: { userId, ...liveWhere(this.clock.now()) }, relations: { app: true }, order: { createdAt: 'ASC' } });
  }
}

const liveWhere = (now: Date) => ({ revokedAt: IsNull(), rotatedAt: IsNull(), expiresAt: MoreThan(now) });

function toAuthorization(grant: GrantEntity): AuthorizationDto {
  return {
    grant_id: grant.id,
    grant_issued_at: grant.createdAt.toISOString(),
    app_name: grant.app!.name,
    app_display_name: grant.app!.displayName,
    app_client_id: grant.app!.clientId,
    app_provenance: grant.app!.provenance,
    scope: grant.scopes,
  };
}

