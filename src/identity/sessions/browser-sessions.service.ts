import { Inject, Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { InjectRepository } from '@nestjs/typeorm';
import { createHmac } from 'node:crypto';
import { LessThan, MoreThan, Repository } from 'typeorm';
import { Clock } from '../../common/clock';
import { CryptoService } from '../../common/crypto/crypto.service';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { BrowserSessionEntity } from '../entities/browser-session.entity';
import { UserEntity } from '../entities/user.entity';
import type { UserPrincipal } from '../auth/principal';

export const SESSION_COOKIE = 'session_id';
const PRUNE_EVERY_MS = 10 * 60 * 1000;

export interface NewSession {
  /** The cookie value: 256 random bits, never stored. */
  readonly rawId: string;
  readonly expiresAt: Date;
}

/** Browser sessions: the `session_id` cookie holds 256 random bits; the database only their SHA-256. */
@Injectable()
export class BrowserSessionsService {
  constructor(
    @InjectRepository(BrowserSessionEntity) private readonly sessions: Repository<BrowserSessionEntity>,
    private readonly crypto: CryptoService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(user: Pick<UserEntity, 'id'>): Promise<NewSession> {
    const rawId = this.crypto.randomToken(32);
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.config.sessionTtl * 1000);
    await this.sessions.insert({ idHash: this.crypto.sha256Hex(rawId), userId: user.id, authenticatedAt: now, expiresAt });
    return { rawId, expiresAt };
  }

  /** The signed-in user behind a cookie value, or undefined when it is unknown or expired. */
  async principalFor(rawId: string): Promise<UserPrincipal | undefined> {
    const session = await this.find(rawId);
    if (!session?.user) return undefined;
    const { user } = session;
    return { kind: 'user', userId: user.id, username: user.username, role: user.role, orgId: user.orgId, via: 'session' };
  }

  /** The live session row with its user, for pages that need more than the principal (auth_time, names). */
  find(rawId: string): Promise<BrowserSessionEntity | null> {
    if (rawId.length > 100) return Promise.resolve(null);
    return this.sessions.findOne({
      where: { idHash: this.crypto.sha256Hex(rawId), expiresAt: MoreThan(this.clock.now()) },
      relations: { user: true },
    });
  }

  async end(rawId: string): Promise<void> {
    await this.sessions.delete({ idHash: this.crypto.sha256Hex(rawId) });
  }

  /**
   * The CSRF token of forms posted within a session: an HMAC keyed by the secret cookie value, so it is bound to
   * the session, needs no storage, and is the same on every instance.
   */
  csrfTokenFor(rawId: string): string {
    return createHmac('sha256', rawId).update('portcullis-csrf').digest('base64url');
  }

  verifyCsrf(rawId: string, token: unknown): boolean {
    return typeof token === 'string' && this.crypto.safeEqual(this.csrfTokenFor(rawId), token);
  }

  @Interval(PRUNE_EVERY_MS)
  async pruneExpired(): Promise<number> {
    const { affected } = await this.sessions.delete({ expiresAt: LessThan(this.clock.now()) });
    return affected ?? 0;
  }
}
