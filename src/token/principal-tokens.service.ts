import { Injectable, Logger } from '@nestjs/common';
import { ScopesService } from '../clients/scopes/scopes.service';
import { forbidden, validationError } from '../common/problem/problem';
import type { Principal } from '../identity/auth/principal';
import { UsersService } from '../identity/users/users.service';
import { AccessTokenClaims, AccessTokensService } from './access-tokens.service';
import type { TokenResponseDto } from './dto/token.dto';
import type { DelegatedTokenRequestDto } from './dto/principal-token.dto';
import { tokenResponse } from './token-response';

/** `client_id` of tokens this server issues to its own callers rather than to a registered app. */
export const SELF_CLIENT_ID = 'portcullis';

/** A principal token names what it was minted from. */
export function isPrincipalToken(claims: Pick<AccessTokenClaims, 'sid' | 'source_jti'>): boolean {
  return typeof claims.sid === 'string' || typeof claims.source_jti === 'string';
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
  ) {}

  /**
   * A token for the caller itself, bound to where the caller's credential came from (SPEC §2):
   * - from a browser session: every scope the user's role allows, until the session ends (`sid`);
   * - from an access token: never more scopes than it carries (or an app granted only `account` could mint an
   *   `admin` token), never longer than it lives, dead when it is revoked (`source_jti`), and keeping its `act`
   *   so a delegated token cannot shed the trace of who delegated it;
   * - never from another principal token, so no chain of tokens can outlive its root.
   */
  async principalToken(principal: Principal): Promise<TokenResponseDto> {
    if (principal.kind !== 'user') throw forbidden('A principal token is for a user');
    if (principal.token?.principal) throw forbidden('A principal token cannot mint another');
    const user = await this.users.findById(principal.userId);
    if (!user) throw forbidden('The user no longer exists');
    const allowed = this.scopes.allowedForRole(user.role);
    const source = principal.via === 'access_token' ? principal.token : undefined;
    if (principal.via === 'access_token' && !source) throw forbidden('The presented token cannot be bound');
    if (principal.via === 'session' && !principal.session) throw forbidden('The session cannot be bound');
    const scopes = source ? allowed.filter((s) => principal.scopes?.includes(s)) : allowed;
    const access = await this.accessTokens.sign({
      subject: user.id,
      clientId: SELF_CLIENT_ID,
      scopes,
      notAfter: source ? source.expiresAt : principal.session!.expiresAt,
      extraClaims: {
        ...(source ? { source_jti: source.jti } : { sid: principal.session!.id }),
        ...(principal.act ? { act: principal.act } : {}),
      },
    });
    return tokenResponse(access, scopes);
  }

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
    const access = await this.accessTokens.sign({
      subject: subject.id,
      clientId: SELF_CLIENT_ID,
      scopes: [...new Set(scopes)],
      extraClaims: { act: actor, ...(request.team_id ? { team_id: request.team_id } : {}) },
    });
    this.logger.log({ actor: actor.sub, subject: subject.id, scopes, teamId: request.team_id, jti: access.jti }, 'delegated token issued');
    return tokenResponse(access, [...new Set(scopes)]);
  }
}
