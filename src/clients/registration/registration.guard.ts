import { CanActivate, ExecutionContext, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { CryptoService } from '../../common/crypto/crypto.service';
import { OAuthError } from '../../common/oauth/oauth-error';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';

/** Registrations per source address and minute: enough for any real client, too few to flood the apps table. */
export const REGISTRATIONS_PER_MINUTE = 20;

/**
 * Who may register (RFC 7591 §3): nobody while DCR is off (404); with OAUTH2_DCR_INITIAL_ACCESS_TOKEN set, only a
 * caller presenting it as a bearer token; and at most REGISTRATIONS_PER_MINUTE per source address.
 */
@Injectable()
export class RegistrationGuard implements CanActivate {
  private readonly limiter = new RateLimiterMemory({ points: REGISTRATIONS_PER_MINUTE, duration: 60 });

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly crypto: CryptoService,
  ) {}

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
      await this.limiter.consume(req.ip ?? 'unknown');
    } catch (e) {
      const retryAfter = Math.ceil(((e as RateLimiterRes).msBeforeNext ?? 60_000) / 1000);
      res.setHeader('Retry-After', String(retryAfter));
      throw new OAuthError('temporarily_unavailable', `too many registrations from this address; retry in ${retryAfter} s`, 429);
    }
    return true;
  }
}
