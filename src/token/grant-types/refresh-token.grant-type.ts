import { Injectable, Logger } from '@nestjs/common';
import type { AuthenticatedClient } from '../../clients/authentication/client-authentication.service';
import { invalidGrant, invalidRequest } from '../../common/oauth/oauth-error';
import { GrantsService } from '../../grants/grants.service';
import { RefreshTokensService } from '../../grants/refresh-tokens.service';
import { AccessTokensService, SignedAccessToken } from '../access-tokens.service';
import { TokenRequestDto, TokenResponseDto } from '../dto/token.dto';
import { tokenResponse } from '../token-response';
import { checkAuthorizedResource, checkNarrowedScope } from './checks';
import { GrantTypeHandler } from './grant-type';

/**
 * RFC 6749 §6 with OAuth 2.1 §4.3: the refresh token must be this client's and live; it is rotated on every use,
 * and one presented again after rotation revokes its whole family (RFC 9700 §4.14.2). `scope` may narrow.
 */
@Injectable()
export class RefreshTokenGrantType implements GrantTypeHandler {
  readonly grantType = 'refresh_token';
  private readonly logger = new Logger('RefreshTokenGrant');

  constructor(
    private readonly refreshTokens: RefreshTokensService,
    private readonly accessTokens: AccessTokensService,
    private readonly grants: GrantsService,
  ) {}

  async handle(client: AuthenticatedClient, request: TokenRequestDto): Promise<TokenResponseDto> {
    if (!request.refresh_token) throw invalidRequest('refresh_token is missing');
    let access: SignedAccessToken | undefined;
    let scopes: string[] = [];
    let subject = '';
    let authTime: Date | null = null;
    let grantId = '';

    const result = await this.refreshTokens.rotate(request.refresh_token, client.app.id, async (parent) => {
      // Checked inside the rotation: a refused request rolls back and leaves the token usable.
      scopes = checkNarrowedScope(request.scope, parent.scopes);
      const resources = checkAuthorizedResource(request.resource, parent.resources);
      subject = parent.userId;
      authTime = parent.authTime;
      grantId = parent.grantId;
      access = await this.accessTokens.sign({ subject: parent.userId, clientId: client.app.clientId, scopes, resources, authTime: parent.authTime });
      return { accessTokenJti: access.jti, accessTokenExpiresAt: access.expiresAt };
    });
    if (!result.ok) {
      if (result.reason === 'reused') this.logger.warn({ clientId: client.app.clientId }, 'rotated refresh token reused: its family is revoked');
      throw invalidGrant('the refresh token is invalid, expired, revoked or already used', result.reason);
    }
    await this.grants.markUsed(grantId);
    const idToken = scopes.includes('openid')
      ? await this.accessTokens.signIdToken({ subject, clientId: client.app.clientId, authTime })
      : undefined;
    return tokenResponse(access!, scopes, { refreshToken: result.refreshToken, idToken });
  }
}
