import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { deleteInBatches, Pruned } from '../../database/batched-delete';
import { createHmac } from 'node:crypto';
import { EntityManager, MoreThan, Repository } from 'typeorm';
import { Clock } from '../../common/clock';
import { isUuid } from '../../common/uuid';
import { CryptoService } from '../../common/crypto/crypto.service';
import { Metrics } from '../../common/metrics/metrics';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { BrowserSessionEntity } from '../entities/browser-session.entity';
import { PreparedStatements, prepared } from '../../database/prepared-statements';
import { ScheduledJobs } from '../../database/scheduled-jobs';
import { UserEntity } from '../entities/user.entity';
import { UsersService } from '../users/users.service';
import type { UserPrincipal } from '../auth/principal';
import { identifyActor } from '../audit/audit-context';
import { userActor } from '../audit/actors';

export const SESSION_COOKIE = 'session_id';

export interface SignedIn {
  /** The cookie value. */
  readonly rawId: string;
  readonly session: Session;
  readonly user: Readonly<UserEntity>;
}

/** A live browser session. */
export interface Session {
  readonly id: string;
  readonly userId: string;
  readonly authenticatedAt: Date;
  readonly expiresAt: Date;
}

/** Read on every request of a signed-in browser; the user comes from memory (UsersService). */
const FIND_SESSION = prepared('session-find', `
  SELECT id, user_id AS "userId", authenticated_at AS "authenticatedAt", expires_at AS "expiresAt"
    FROM browser_sessions WHERE id_hash = $1 AND expires_at > $2`);

export interface NewSession {
  /** The cookie value: 256 random bits, never stored. */
  readonly rawId: string;
  readonly expiresAt: Date;
}

/** Browser sessions: the `session_id` cookie holds 256 random bits; the database only their SHA-256. */
@Injectable()
export class BrowserSessionsService {
  private readonly logger = new Logger(BrowserSessionsService.name);

  constructor(
    @InjectRepository(BrowserSessionEntity) private readonly sessions: Repository<BrowserSessionEntity>,
    private readonly sql: PreparedStatements,
    private readonly users: UsersService,
    private readonly crypto: CryptoService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
    jobs: ScheduledJobs,
  ) {
    jobs.every('prune expired browser sessions', () => this.pruneExpired());
  }

  /** A new session for `user`, in `manager`'s transaction when given (sign-in records it in the audit trail too). */
  async create(user: Pick<UserEntity, 'id'>, manager: EntityManager = this.sessions.manager): Promise<NewSession> {
    const rawId = this.crypto.randomToken(32);
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.config.sessionTtl * 1000);
    await manager.insert(BrowserSessionEntity, { idHash: this.crypto.sha256Hex(rawId), userId: user.id, authenticatedAt: now, expiresAt });
    return { rawId, expiresAt };
  }

  /**
   * The signed-in session behind a request's cookies, with its user, and the raw cookie value (which keys the
   * session's CSRF tokens); undefined when there is no cookie or it is unknown or expired. The pages that read the
   * session themselves (consent, connected apps) act as its user: the audit trail is told so here.
   */
  async fromCookies(cookies: Record<string, unknown> | undefined): Promise<SignedIn | undefined> {
    const rawId = cookies?.[SESSION_COOKIE];
    if (typeof rawId !== 'string' || rawId === '' || rawId.length > 100) return undefined;
    const [session] = await this.sql.rows<Session>(FIND_SESSION, [this.crypto.sha256Hex(rawId), this.clock.now()]);
    const user = session && (await this.users.findById(session.userId));
    if (!user) return undefined;
    identifyActor(userActor(user));
    return { rawId, session, user };
  }

  /** The signed-in user as an API principal. */
  async principalFrom(cookies: Record<string, unknown> | undefined): Promise<UserPrincipal | undefined> {
    const signedIn = await this.fromCookies(cookies);
    if (!signedIn) return undefined;
    const { user, session } = signedIn;
    return {
      kind: 'user', userId: user.id, username: user.username, role: user.role, orgId: user.orgId, via: 'session',
      session: { id: session.id, authenticatedAt: session.authenticatedAt, expiresAt: session.expiresAt },
    };
  }

  /** Whether the session with this row id still exists and has not expired (principal tokens end with it). */
  isLive(id: string): Promise<boolean> {
    if (!isUuid(id)) return Promise.resolve(false);
    return this.sessions.existsBy({ id, expiresAt: MoreThan(this.clock.now()) });
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

  async pruneExpired(): Promise<Pruned> {
    const pruned = await deleteInBatches(this.sessions.manager, 'browser_sessions', 'id', 'expires_at < $1', [this.clock.now()]);
    this.metrics.pruned('browser_sessions', pruned.rows);
    if (pruned.rows > 0) this.logger.log({ browserSessions: pruned }, 'pruned expired browser sessions');
    return pruned;
  }
}
