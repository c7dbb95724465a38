import { Inject, Injectable } from '@nestjs/common';
import { allowsResource } from '../../clients/allowed-resources';
import type { AuthenticatedClient } from '../../clients/authentication/client-authentication.service';
import { ScopesService } from '../../clients/scopes/scopes.service';
import { invalidGrant, invalidRequest } from '../../common/oauth/oauth-error';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { GrantsService } from '../../grants/grants.service';
import { UsersService } from '../../identity/users/users.service';
import { AccessTokensService } from '../access-tokens.service';
import { TokenRequestDto, TokenResponseDto } from '../dto/token.dto';
import { tokenResponse } from '../token-response';
import { checkAuthorizedResource, checkNarrowedScope } from './checks';
import { GrantTypeHandler } from './grant-type';

/**
 * RFC 6749 §6 with OAuth 2.1 §4.3: the refresh token must be this client's and live; it is rotated on every use,
 * and one presented again after rotation revokes its whole family (RFC 9700 §4.14.2). `scope` may narrow; what
 * was granted is also cut to what the user's role and the app allow now (SPEC §4), and so are its resources.
 */
@Injectable()
export class RefreshTokenGrantType implements GrantTypeHandler {
  readonly grantType = 'refresh_token';

  constructor(
    private readonly grants: GrantsService,
    private readonly accessTokens: AccessTokensService,
    private readonly users: UsersService,
    private readonly scopes: ScopesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async handle(client: AuthenticatedClient, request: TokenRequestDto): Promise<TokenResponseDto> {
    if (!request.refresh_token) throw invalidRequest('refresh_token is missing');

    // Checked inside the rotation: a refused request rolls back and leaves the token usable. Within the reuse grace
    // window a rotation may be answered again: `reissue` is then the access token recorded with it, signed again.
    const { value, refreshToken } = await this.grants.rotateRefreshToken(request.refresh_token, client.app.id, async (parent, reissue) => {
      const user = await this.users.findById(parent.userId);
      if (!user) throw invalidGrant('the refresh token is invalid, expired, revoked or already used', 'user gone');
      const stillAllowed = this.scopes.grantable(parent.scopes, user.role, client.app).filter((s) => client.app.scopes.includes(s));
      const scopes = checkNarrowedScope(request.scope, stillAllowed);
      // The family keeps the resources it was authorized for: should an admin allow one again, it comes back.
      const resources = checkAuthorizedResource(request.resource, parent.resources, allowsResource(client.app, this.config.authorizationServer.issuerUrl));
      const access = await this.accessTokens.sign({ subject: parent.userId, clientId: client.app.clientId, scopes, resources, authTime: parent.authTime, reissue });
      const idToken = scopes.includes('openid')
        ? await this.accessTokens.signIdToken({ subject: parent.userId, clientId: client.app.clientId, authTime: parent.authTime })
        : undefined;
      return { accessToken: access, scopes: stillAllowed, value: { access, scopes, idToken } };
    });
    return tokenResponse(value.access, value.scopes, { refreshToken, idToken: value.idToken });
  }
}
