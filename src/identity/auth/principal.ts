import type { UserRole } from '../entities/user.entity';

/**
 * Who is calling an `/api` route (SPEC §2): a browser session acts as its user with all of the user's rights; a
 * service-account token acts with the account's role; an access token of this server acts as its `sub`, limited
 * by its scopes.
 */
export type Principal = UserPrincipal | ServiceAccountPrincipal;

export interface UserPrincipal {
  readonly kind: 'user';
  readonly userId: string;
  readonly username: string;
  readonly role: UserRole;
  readonly orgId: string;
  /** How the caller proved it: the `session_id` cookie or an access token of this server. */
  readonly via: 'session' | 'access_token';
  /** Access tokens only: the scopes granted; a session is not limited by scopes. */
  readonly scopes?: readonly string[];
  /** Access tokens only: the client the token was issued to. */
  readonly clientId?: string;
  /** Access tokens only: the RFC 8693 `act` claim of a delegated token (who acts for the user). */
  readonly act?: Readonly<Record<string, unknown>>;
  /** Sessions only: the browser session (its row id, never the cookie value), when the user signed in, until when. */
  readonly session?: { readonly id: string; readonly authenticatedAt: Date; readonly expiresAt: Date };
  /**
   * Access tokens only: the token itself, so that a principal token minted from it can be bound to it (its `jti`
   * and expiry), and whether it is itself a principal token (which may not mint another).
   */
  readonly token?: { readonly jti: string; readonly expiresAt: Date; readonly principal: boolean };
}

export interface ServiceAccountPrincipal {
  readonly kind: 'service_account';
  readonly serviceAccountId: string;
  readonly name: string;
  readonly role: UserRole;
  readonly orgId: string;
  readonly via: 'service_account_token';
}
