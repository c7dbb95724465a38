import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { DataSource } from 'typeorm';

/** Created by migration TokensDieWithTheirSource, in rate-limiter-flexible's layout. */
const TABLE = 'rate_limits';

export interface LimitOptions {
  /** Names the counter; keys of different limits never collide. */
  readonly name: string;
  readonly points: number;
  readonly durationSeconds: number;
}

/**
 * What a refused charge answers: how long until the next attempt may succeed, which limit refused it, and whether
 * this was the attempt that used the limit up (every refused one after it in the window is not).
 */
export class LimitExceeded extends Error {
  override readonly name = 'LimitExceeded';
  constructor(readonly retryAfterSeconds: number, readonly limit: string, readonly first: boolean) {
    super(`limit exceeded; retry in ${retryAfterSeconds} s`);
  }
}

/**
 * One counter kept in PostgreSQL: every instance on the database shares it, and each charge is one atomic upsert,
 * so concurrent attempts are all counted (SPEC §7 "sign-in limits hold under concurrent attempts and across
 * instances"). Keys are hashed: no username or address is stored as such.
 */
export class Limit {
  constructor(
    private readonly limiter: RateLimiterPostgres,
    private readonly dataSource: DataSource,
    private readonly options: LimitOptions,
  ) {}

  get name(): string {
    return this.options.name;
  }

  /**
   * Charges one attempt before it is evaluated; throws LimitExceeded when none is left. A refused attempt is counted
   * too (one atomic upsert each), so exactly one attempt per window is the first over the limit.
   */
  async charge(key: string): Promise<void> {
    try {
      await this.limiter.consume(hashKey(key));
    } catch (e) {
      if (e instanceof RateLimiterRes) {
        throw new LimitExceeded(Math.max(1, Math.ceil(e.msBeforeNext / 1000)), this.options.name, e.consumedPoints === this.options.points + 1);
      }
      throw e;
    }
  }

  /**
   * Gives one attempt back (it succeeded, so it was no guess) — within the window it was charged in, and never
   * below zero, which would hand out extra attempts in the next window.
   */
  async refund(key: string): Promise<void> {
    await this.dataSource.query(`UPDATE ${TABLE} SET points = points - 1 WHERE key = $1 AND points > 0 AND expire > $2`, [
      this.limiter.getKey(hashKey(key)),
      Date.now(),
    ]);
  }

  /** Forgets the counter (a successful sign-in clears its failures). */
  async reset(key: string): Promise<void> {
    await this.limiter.delete(hashKey(key));
  }
}

@Injectable()
export class RateLimitsService {
  constructor(private readonly dataSource: DataSource) {}

  limit(options: LimitOptions): Limit {
    return new Limit(new RateLimiterPostgres({
      storeClient: this.dataSource,
      storeType: 'typeorm',
      tableName: TABLE,
      tableCreated: true,
      keyPrefix: options.name,
      points: options.points,
      duration: options.durationSeconds,
    }), this.dataSource, options);
  }
}

const hashKey = (key: string) => createHash('sha256').update(key).digest('base64url');
