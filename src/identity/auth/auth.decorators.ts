import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Request } from 'express';
import type { UserRole } from '../entities/user.entity';
import type { Principal } from './principal';

export const PUBLIC_KEY = 'portcullis:public';
export const ACCESS_KEY = 'portcullis:access';

/**
 * The scopes that open `/api` to an access token (SPEC §2): `account` for the caller's own routes, `admin` for the
 * admin routes. The protected resource metadata (RFC 9728) advertises exactly these.
 */
export const API_SCOPES = ['account', 'admin'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** What a protected route demands beyond being authenticated. */
export interface AccessRule {
  /** The caller's role must be one of these. */
  readonly roles?: readonly UserRole[];
  /**
   * An access token must carry this scope (SPEC §2: `account` for the caller's own routes, `admin` for the admin
   * routes). Sessions and service-account tokens are not limited by scopes.
   */
  readonly scope?: ApiScope;
  /**
   * The credentials the route accepts, when not every kind: the server's own consent UI takes a browser session
   * or a service account, never an app's access token (SPEC §2).
   */
  readonly via?: readonly Principal['via'][];
}

/**
 * Every route requires a caller unless it says otherwise: this marks the few that do not (the sign-in pages,
 * health, and the protocol endpoints, which authenticate clients and users by the protocol's own means).
 */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

/** A route for any authenticated caller (session or bearer), optionally limited by role and token scope. */
export const Authenticated = (rule: AccessRule = {}) =>
  applyDecorators(
    SetMetadata(ACCESS_KEY, rule),
    // A browser session needs no scheme: the browser sends the cookie with Swagger UI's same-origin requests.
    ApiBearerAuth('bearer'),
    ApiUnauthorizedResponse({ description: 'No valid session cookie or bearer token' }),
    ApiForbiddenResponse({ description: 'The caller lacks the role or scope' }),
  );

/** The admin API: role `admin`, and scope `admin` for access tokens. */
export const AdminOnly = () => Authenticated({ roles: ['admin'], scope: 'admin' });

export interface AuthenticatedRequest extends Request {
  principal?: Principal;
}

/** Hands the authenticated principal to a handler. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on a route without authentication');
  return principal;
});
