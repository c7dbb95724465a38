import { CanActivate, createParamDecorator, ExecutionContext, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CryptoService } from '../../common/crypto/crypto.service';
import { Limit, LimitExceeded, RateLimitsService } from '../../common/rate-limit/rate-limits.service';
import { OAuthError } from '../../common/oauth/oauth-error';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';

/**
 * Who may register (RFC 7591 §3): nobody while DCR is off (404); with OAUTH2_DCR_INITIAL_ACCESS_TOKEN set, only a
 * caller presenting it as a bearer token; and at most OAUTH2_DCR_RATE_LIMIT per source address and minute, counted
 * in PostgreSQL so the limit holds across instances.
 */
@Injectable()
export class RegistrationGuard implements CanActivate {
  private readonly limiter?: Limit;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly crypto: CryptoService,
    limits: RateLimitsService,
  ) {
    const points = config.dcr.rateLimit;
    this.limiter = points > 0 ? limits.limit({ name: 'dcr-ip', points, durationSeconds: 60 }) : undefined;
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (!this.config.dcr.enabled) throw new NotFoundException();
    const req = ctx.switchToHttp().getRequest<Request>();
    const res = ctx.switchToHttp().getResponse<Response>();

    const required = this.config.dcr.initialAccessToken;
    if (required) {
      const presented = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!presented || !this.crypto.safeEqual(presented, required)) {
        // RFC 7591 §3: an invalid initial access token is answered as RFC 6750 describes.
        throw new OAuthError('invalid_token', 'registration requires a valid initial access token', 401, undefined, {
          'WWW-Authenticate': 'Bearer realm="portcullis", error="invalid_token"',
        });
      }
    }

    try {
      await this.limiter?.charge(sourceAddress(req));
    } catch (e) {
      if (!(e instanceof LimitExceeded)) throw e;
      res.setHeader('Retry-After', String(e.retryAfterSeconds));
      throw new OAuthError('temporarily_unavailable', `too many registrations from this address; retry in ${e.retryAfterSeconds} s`, 429);
    }
    return true;
  }
}

/** Where a registration comes from: the client's address as Express sees it through TRUST_PROXY. */
const sourceAddress = (req: Request): string => req.ip ?? 'unknown';

/** The address the limit was charged to, for the registration itself (a repeated one is recognised by it). */
export const SourceAddress = createParamDecorator((_data: unknown, ctx: ExecutionContext): string =>
  sourceAddress(ctx.switchToHttp().getRequest<Request>()));
