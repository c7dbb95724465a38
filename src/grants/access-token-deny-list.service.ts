import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { deleteInBatches, Pruned } from '../database/batched-delete';
import { EntityManager, LessThan, MoreThan, Repository } from 'typeorm';
import { Clock } from '../common/clock';
import { DatabaseNotifications } from '../database/notifications.service';
import { RevokedAccessTokenEntity } from './entities/revoked-access-token.entity';

const CHANNEL = 'portcullis_revoked_access_tokens';
/** NOTIFY payloads are limited to 8000 bytes: a revocation of many tokens is sent in batches. */
const PER_NOTIFICATION = 100;

export interface DeniedToken {
  readonly jti: string;
  readonly expiresAt: Date;
}

/**
 * Revoked access tokens, by `jti`, until they would have expired anyway (SPEC §4). Every instance keeps the set in
 * memory — verifying a token stays an in-memory operation — fed by NOTIFY as revocations happen anywhere, and
 * reloaded from the table whenever the listening connection (re)connects, so a missed notification cannot leave
 * a revoked token alive.
 */
@Injectable()
export class AccessTokenDenyList implements OnModuleInit {
  private readonly logger = new Logger(AccessTokenDenyList.name);
  /** jti → expiry in ms. */
  private readonly denied = new Map<string, number>();

  constructor(
    @InjectRepository(RevokedAccessTokenEntity) private readonly revoked: Repository<RevokedAccessTokenEntity>,
    private readonly notifications: DatabaseNotifications,
    private readonly clock: Clock,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.notifications.subscribe(CHANNEL, {
      onNotification: (payload) => this.receive(payload),
      onConnected: () => this.reload(),
    });
  }

  isDenied(jti: string): boolean {
    const expiry = this.denied.get(jti);
    if (expiry === undefined) return false;
    if (expiry <= this.clock.now().getTime()) this.denied.delete(jti);
    return true;
  }

  /**
   * Denies tokens on every instance; answers the ones still alive. Inside `manager`'s transaction when given, so
   * it commits with its cause: then this instance learns of them by the notification, or sooner by `remember()`
   * once the caller's transaction has committed — never before, or a rollback (the database gone mid-way) would
   * leave them denied here and nowhere else.
   */
  async deny(tokens: readonly DeniedToken[], manager?: EntityManager): Promise<DeniedToken[]> {
    const live = tokens.filter((t) => t.expiresAt.getTime() > this.clock.now().getTime());
    if (live.length === 0) return [];
    const run = async (em: EntityManager) => {
      await em.createQueryBuilder().insert().into(RevokedAccessTokenEntity)
        .values(live.map((t) => ({ jti: t.jti, expiresAt: t.expiresAt }))).orIgnore().execute();
      for (let i = 0; i < live.length; i += PER_NOTIFICATION) {
        const payload = live.slice(i, i + PER_NOTIFICATION).map((t) => `${t.jti} ${t.expiresAt.getTime()}`).join('\n');
        await em.query('SELECT pg_notify($1, $2)', [CHANNEL, payload]);
      }
    };
    if (manager) {
      await run(manager);
      return live;
    }
    await this.revoked.manager.transaction(run);
    this.remember(live);
    return live;
  }

  /**
   * Denies tokens on this instance only, at once: for tokens a committed transaction denied and announced (by
   * `deny` with a manager, or a deleted row's trigger), whose notification would reach this instance a moment later.
   */
  remember(tokens: readonly DeniedToken[]): void {
    for (const t of tokens) this.denied.set(t.jti, t.expiresAt.getTime());
  }

  pruneExpired(): Promise<Pruned> {
    const now = this.clock.now();
    for (const [jti, expiry] of this.denied) if (expiry <= now.getTime()) this.denied.delete(jti);
    return deleteInBatches(this.revoked.manager, 'revoked_access_tokens', 'jti', 'expires_at < $1', [now]);
  }

  /** How many denied tokens this instance holds in memory that have not expired (a walk: for reports, not requests). */
  get liveCount(): number {
    const now = this.clock.now().getTime();
    let live = 0;
    for (const expiry of this.denied.values()) if (expiry > now) live++;
    return live;
  }

  /** Entries held, expired ones not yet pruned included. */
  get heldCount(): number {
    return this.denied.size;
  }

  private receive(payload: string): void {
    for (const line of payload.split('\n')) {
      const [jti, expiry] = line.split(' ');
      if (jti && Number(expiry) > 0) this.denied.set(jti, Number(expiry));
    }
  }

  private async reload(): Promise<void> {
    const rows = await this.revoked.find({ where: { expiresAt: MoreThan(this.clock.now()) }, select: { jti: true, expiresAt: true } });
    for (const row of rows) this.denied.set(row.jti, row.expiresAt.getTime());
    this.logger.debug({ count: rows.length }, 'revoked access tokens loaded');
  }
}
