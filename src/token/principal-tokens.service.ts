import { Injectable, Logger } from '@nestjs/common';
import { ScopesService } from '../clients/scopes/scopes.service';
import { forbidden, validationError } from '../common/problem/problem';
import type { Principal } from '../identity/auth/principal';
import { UsersService } from '../identity/users/users.service';
import { AccessTokensService } from './access-tokens.service';
import type { TokenResponseDto } from './dto/token.dto';
import type { DelegatedTokenRequestDto } from './dto/principal-token.dto';
import { tokenResponse } from './token-response';

/** `client_id` of tokens this server issues to its own callers rather than to a registered app. */
export const SELF_CLIENT_ID = 'portcullis';

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
   * Every scope the caller's role allows, for the caller itself. A caller that came with an access token is
   * "limited by its scopes" (SPEC §2): the new token never carries more than the presented one, and keeps its
   * `act` — otherwise an app granted only `account` could mint an `admin` token, and a delegated token could shed
   * the trace of who delegated it.
   */
  async principalToken(principal: Principal): Promise<TokenResponseDto> {
    if (principal.kind !== 'user') throw forbidden('A principal token is for a user');
    const user = await this.users.findById(principal.userId);
    if (!user) throw forbidden('The user no longer exists');
    const allowed = this.scopes.allowedForRole(user.role);
    const scopes = principal.via === 'access_token' ? allowed.filter((s) => principal.scopes?.includes(s)) : allowed;
    const access = await this.accessTokens.sign({
      subject: user.id,
      clientId: SELF_CLIENT_ID,
      scopes,
      ...(principal.act ? { extraClaims: { act: principal.act } } : {}),
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
