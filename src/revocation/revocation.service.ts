import { Injectable } from '@nestjs/common';
import type { AuthenticatedClient } from '../clients/authentication/client-authentication.service';
import { invalidClient, invalidRequest } from '../common/oauth/oauth-error';
import { GrantsService } from '../grants/grants.service';
import { UsersService } from '../identity/users/users.service';
import { AccessTokensService, InvalidAccessToken } from '../token/access-tokens.service';
import type { IntrospectionResponseDto, TokenActionDto } from './dto/token-action.dto';

/** RFC 7009 revocation and RFC 7662 introspection. */
@Injectable()
export class RevocationService {
  constructor(
    private readonly grants: GrantsService,
    private readonly accessTokens: AccessTokensService,
    private readonly users: UsersService,
  ) {}

  /**
   * RFC 7009 §2.1–2.2: a refresh token revokes its family (and the access tokens issued with it); an access token
   * is denied by `jti` on every instance. An unknown token, or another client's, changes nothing and still gets
   * 200, so the answer tells a prober nothing.
   */
  async revoke(client: AuthenticatedClient, request: TokenActionDto): Promise<void> {
    const token = requireToken(request);
    if (!isJwt(token)) {
      await this.grants.revokeRefreshToken(token, client.app.id);
      return;
    }
    const claims = await this.accessTokens.verify(token).catch((e) => (e instanceof InvalidAccessToken ? undefined : Promise.reject(e)));
    if (claims && claims.client_id === client.app.clientId) {
      await this.grants.denyAccessToken({ jti: claims.jti, expiresAt: new Date(claims.exp * 1000) });
    }
  }

  /** RFC 7662 §2.2: `{active: false}` for anything not valid, with no hint why. */
  async introspect(client: AuthenticatedClient, request: TokenActionDto): Promise<IntrospectionResponseDto> {
    // Introspection tells about tokens: only a client that can keep a secret may ask.
    if (client.method === 'none') throw invalidClient('introspection needs a confidential client');
    const token = requireToken(request);
    if (!isJwt(token)) {
      const refresh = await this.grants.findLiveRefreshToken(token);
      if (!refresh) return { active: false };
      if (refresh.appId !== client.app.id) return { active: false };
      return {
        active: true,
        token_type: 'refresh_token',
        scope: refresh.scopes.join(' '),
        client_id: client.app.clientId,
        sub: refresh.userId,
        iat: Math.floor(refresh.issuedAt.getTime() / 1000),
        exp: Math.floor(refresh.expiresAt.getTime() / 1000),
      };
    }
    // An access token is verified in memory: no statement.
    const claims = await this.accessTokens.verify(token).catch((e) => (e instanceof InvalidAccessToken ? undefined : Promise.reject(e)));
    if (!claims) return { active: false };
    // A token about a user (not a client acting as itself) is active only while the user exists and has not
    // changed role or password since it was issued (SPEC §7).
    if (claims.sub !== claims.client_id) {
      if (!(await this.users.findTokenSubject(claims.sub, claims.iat))) return { active: false };
    }
    return {
      active: true,
      token_type: 'Bearer',
      scope: claims.scope,
      client_id: claims.client_id,
      sub: claims.sub,
      aud: claims.aud,
      iss: claims.iss,
      iat: claims.iat,
      exp: claims.exp,
      jti: claims.jti,
      ...(claims.act ? { act: claims.act } : {}),
    };
  }
}

function requireToken(request: TokenActionDto): string {
  if (!request.token) throw invalidRequest('token is missing');
  return request.token;
}

/**
 * Access tokens are JWTs (three base64url parts joined by dots); refresh tokens are 256 random bits in base64url,
 * which never holds a dot. So a token is looked up where it can be, and only there.
 */
function isJwt(token: string): boolean {
  return token.includes('.');
}
