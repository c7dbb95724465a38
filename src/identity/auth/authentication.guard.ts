import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { Reflector } from '@nestjs/core';
import { BearerChallenge } from '../../common/oauth/bearer-challenge';
import { ApiProblem, forbidden, unauthorised } from '../../common/problem/problem';
import { BrowserSessionsService } from '../sessions/browser-sessions.service';
import { identifyActor } from '../audit/audit-context';
import { principalActor } from '../audit/actors';
import { ACCESS_KEY, AccessRule, AuthenticatedRequest, PUBLIC_KEY } from './auth.decorators';
import { BearerAuthenticator } from './bearer.strategy';
import type { Principal } from './principal';

const BEARER = /^Bearer\s+/i;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The global guard: every route needs a caller unless marked @Public (default deny). A caller is a browser
 * session (the `session_id` cookie) or a bearer token in the Authorization header (passport-http-bearer); never a
 * token from the query string or the body (SPEC §2). Then the route's role and scope rule is checked.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  private readonly origin: string;
  private readonly challenge: BearerChallenge;

  constructor(
    private readonly reflector: Reflector,
    private readonly bearer: BearerAuthenticator,
    private readonly sessions: BrowserSessionsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.origin = new URL(config.authorizationServer.issuerUrl).origin;
    this.challenge = new BearerChallenge(config);
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_KEY, targets)) return true;

    const principal = await this.authenticate(ctx, req);
    req.principal = principal;
    identifyActor(principalActor(principal));
    this.authorise(principal, this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_KEY, targets) ?? {});
    return true;
  }

  private async authenticate(ctx: ExecutionContext, req: AuthenticatedRequest): Promise<Principal> {
    const authorization = req.headers.authorization;
    if (authorization && BEARER.test(authorization)) {
      const principal = await this.bearer.authenticate(req, ctx.switchToHttp().getResponse());
      if (!principal) {
        throw unauthorised('The bearer token is not valid', this.challenge.headers({ error: 'invalid_token', description: 'The bearer token is not valid' }));
      }
      return principal;
    }
    const fromSession = await this.fromSession(req);
    if (fromSession) {
      this.refuseCrossOrigin(req);
      return fromSession;
    }
    // RFC 6750 §3.1: no credentials (or a scheme other than Bearer) gets the challenge without an error code.
    throw unauthorised('Sign in, or send a bearer token in the Authorization header', this.challenge.headers());
  }

  /**
   * A cookie rides along on requests other sites make; SameSite=Lax stops cross-site POSTs but not same-site ones
   * (a sibling subdomain). So a session may change things only from our own origin: browsers send `Origin` on
   * every cross-origin unsafe request, and a foreign one is refused.
   */
  private refuseCrossOrigin(req: AuthenticatedRequest): void {
    if (SAFE_METHODS.has(req.method)) return;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== this.origin) throw forbidden('Cross-origin requests cannot use the session cookie');
  }

  private async fromSession(req: AuthenticatedRequest): Promise<Principal | undefined> {
    return this.sessions.principalFrom(req.cookies as Record<string, unknown> | undefined);
  }

  private authorise(principal: Principal, rule: AccessRule): void {
    if (rule.via && !rule.via.includes(principal.via)) {
      throw forbidden(principal.via === 'access_token' ? 'An access token issued to an application cannot be used here' : 'These credentials cannot be used here');
    }
    // RFC 6750 §3.1: a token without the scope gets 403 insufficient_scope, naming the scope it needs.
    if (rule.scope && principal.kind === 'user' && principal.via === 'access_token' && !principal.scopes?.includes(rule.scope)) {
      throw new ApiProblem('forbidden', `The access token lacks the "${rule.scope}" scope`, 403, undefined,
        this.challenge.headers({ error: 'insufficient_scope', scope: rule.scope }));
    }
    if (rule.roles && !rule.roles.includes(principal.role)) {
      throw forbidden(`This needs the ${rule.roles.join(' or ')} role`);
    }
  }
}
