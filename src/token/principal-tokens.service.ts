import { Injectable, Logger } from '@nestjs/common';
import { ScopesService } from '../clients/scopes/scopes.service';
import { forbidden, validationError } from '../common/problem/problem';
import type { Principal } from '../identity/auth/principal';
import { AuditTrail } from '../identity/audit/audit-trail.service';
import { UsersService } from '../identity/users/users.service';
import { AccessTokenClaims, AccessTokensService } from './access-tokens.service';
import type { TokenResponseDto } from './dto/token.dto';
import type { DelegatedTokenRequestDto } from './dto/principal-token.dto';
import { tokenResponse } from './token-response';

/** `client_id` of tokens this server issues to its own callers rather than to a registered app. */
export const SELF_CLIENT_ID = 'portcullis';

/**
 * A token this server minted for a caller of its API (principal or delegated): it names what it was minted from,
 * or whom it acts for.
 */
export function isPrincipalToken(claims: Pick<AccessTokenClaims, 'sid' | 'source_jti' | 'act'>): boolean {
  return typeof claims.sid === 'string' || typeof claims.source_jti === 'string' || claims.act !== undefined;
}

/**
 * What a minted token is bound to (SPEC §2 "bound to where the caller's credential came from"): a browser
 * session (`sid`: it ends with the session) or an access token (`source_jti`: it dies when that token is
 * revoked, directly or with its grant or family); never longer than either lives. A minted token cannot mint
 * another, so no chain outlives its root. A service account's token is revoked in the database; what it mints lives
 * at most ACCESS_TOKEN_TTL.
 */
function bindingOf(principal: Principal): { notAfter?: Date; claims: Record<string, unknown> } {
  if (principal.via === 'service_account_token') return { claims: {} };
  if (principal.via === 'session') {
    if (!principal.session) throw forbidden('The session cannot be bound');
    return { notAfter: principal.session.expiresAt, claims: { sid: principal.session.id } };
  }
  if (!principal.token) throw forbidden('The presented token cannot be bound');
  if (principal.token.principal) throw forbidden('A token minted by this API cannot mint another');
  return { notAfter: principal.token.expiresAt, claims: { source_jti: principal.token.jti } };
}

/**
 * Tokens for callers of the API itself (SPEC §2): a principal token for the caller, and — for admins — a
 * delegated token for another user that names the admin in an RFC 8693 `act` claim.
 */
@Injectable()
export class PrincipalTokensService {
  private readonly logger = new Logger('DelegatedTokens');

  constructor(
    private readonly accessTokens: AccessTokensService,
    private readonly users: UsersService,
    private readonly scopes: ScopesService,
    private readonly audit: AuditTrail,
  ) {}

  /**
   * A token for the caller itself (SPEC §2): from a browser session, every scope the user's role allows; from an
   * access token, never more scopes than it carries (or an app granted only `account` could mint an `admin`
   * token). Either way bound to the caller's credential (see `bindingOf`).
   */
  async principalToken(principal: Principal): Promise<TokenResponseDto> {
    if (principal.kind !== 'user') throw forbidden('A principal token is for a user');
    const binding = bindingOf(principal);
    const user = await this.users.findById(principal.userId);
    if (!user) throw forbidden('The user no longer exists');
    const allowed = this.scopes.allowedForRole(user.role);
    const scopes = principal.via === 'access_token' ? allowed.filter((s) => principal.scopes?.includes(s)) : allowed;
    const access = await this.accessTokens.sign({ subject: user.id, clientId: SELF_CLIENT_ID, scopes, notAfter: binding.notAfter, extraClaims: binding.claims });
    // Nothing is stored for a minted token: the event stands alone, and is in before the token is handed out.
    await this.audit.recordAlone({
      type: 'token.principal_minted', subjectUserId: user.id, clientId: principal.clientId ?? null,
      details: { scopes, jti: access.jti, bound_to: principal.via, expires_at: access.expiresAt.toISOString() },
    });
    return tokenResponse(access, scopes);
  }

  /** A token for `sub` naming the caller in `act` (RFC 8693 §4.1), bound to the caller's credential like a principal token. */
  async delegatedToken(principal: Principal, request: DelegatedTokenRequestDto): Promise<TokenResponseDto> {
    const subject = await this.users.findById(request.sub);
    if (!subject) throw validationError([{ name: 'sub', error: 'reference_not_found', title: 'No user with this id', pointer: '/sub' }]);
    const allowed = this.scopes.allowedForRole(subject.role);
    const scopes = request.scopes ?? allowed;
    const refused = scopes.filter((s) => !allowed.includes(s));
    if (refused.length) {
      throw validationError([{ name: 'scopes', error: 'invalid_value', title: `Not grantable to this user: ${refused.join(' ')}`, pointer: '/scopes' }]);
    }
    const actor = principal.kind === 'user'
      ? { sub: principal.userId, username: principal.username }
      : { sub: principal.serviceAccountId, service_account: principal.name };
    const binding = bindingOf(principal);
    const access = await this.accessTokens.sign({
      subject: subject.id,
      clientId: SELF_CLIENT_ID,
      scopes: [...new Set(scopes)],
      notAfter: binding.notAfter,
      extraClaims: { ...binding.claims, act: actor, ...(request.team_id ? { team_id: request.team_id } : {}) },
    });
    this.logger.log({ actor: actor.sub, subject: subject.id, scopes, teamId: request.team_id, jti: access.jti }, 'delegated token issued');
    await this.audit.recordAlone({
      type: 'token.delegated_minted', subjectUserId: subject.id, clientId: principal.kind === 'user' ? (principal.clientId ?? null) : null,
      details: { scopes: [...new Set(scopes)], jti: access.jti, expires_at: access.expiresAt.toISOString(), ...(request.team_id ? { team_id: request.team_id } : {}) },
    });
    return tokenResponse(access, [...new Set(scopes)]);
  }
}
