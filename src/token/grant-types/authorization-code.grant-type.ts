import { Inject, Injectable } from '@nestjs/common';
import { allowsResource } from '../../clients/allowed-resources';
import type { AuthenticatedClient } from '../../clients/authentication/client-authentication.service';
import { CryptoService } from '../../common/crypto/crypto.service';
import { invalidGrant, invalidRequest } from '../../common/oauth/oauth-error';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { GrantsService } from '../../grants/grants.service';
import { AccessTokensService } from '../access-tokens.service';
import { TokenRequestDto, TokenResponseDto } from '../dto/token.dto';
import { tokenResponse } from '../token-response';
import { checkAuthorizedResource, checkCodeVerifier } from './checks';
import { GrantTypeHandler } from './grant-type';

/**
 * RFC 6749 §4.1.3 with OAuth 2.1 §4.1.3 and RFC 7636 §4.6, in order: the code is redeemed exactly once, belongs
 * to this client, was issued for this redirect_uri, and matches the PKCE verifier. Single use and the revocation
 * of a replayed code's tokens (RFC 6749 §4.1.2) belong to the grants module, which owns the code.
 */
@Injectable()
export class AuthorizationCodeGrantType implements GrantTypeHandler {
  readonly grantType = 'authorization_code';

  constructor(
    private readonly grants: GrantsService,
    private readonly accessTokens: AccessTokensService,
    private readonly crypto: CryptoService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async handle(client: AuthenticatedClient, request: TokenRequestDto): Promise<TokenResponseDto> {
    if (!request.code) throw invalidRequest('code is missing');

    // Everything here runs inside the redemption: a refusal rolls it back.
    const { value, refreshToken } = await this.grants.redeemCode(request.code, async (code) => {
      if (code.appId !== client.app.id) throw invalidGrant('the code was issued to another client');
      if ((code.redirectUriExplicit || request.redirect_uri !== undefined) && request.redirect_uri !== code.redirectUri) {
        throw invalidGrant('redirect_uri does not match the authorization request');
      }
      checkCodeVerifier(code.codeChallenge, request.code_verifier, (a, b) => this.crypto.safeEqual(a, b));
      const resources = checkAuthorizedResource(request.resource, code.resources, allowsResource(client.app, this.config.authorizationServer.issuerUrl));

      const access = await this.accessTokens.sign({ subject: code.userId, clientId: client.app.clientId, scopes: code.scopes, resources, authTime: code.authTime });
      const idToken = code.scopes.includes('openid')
        ? await this.accessTokens.signIdToken({ subject: code.userId, clientId: client.app.clientId, nonce: code.nonce, authTime: code.authTime })
        : undefined;
      return { accessToken: access, withRefreshToken: refreshTokenAllowed(client, code.scopes), value: { access, idToken, scopes: code.scopes } };
    });
    return tokenResponse(value.access, value.scopes, { refreshToken, idToken: value.idToken });
  }
}

/**
 * SPEC §4: a refresh token when the app is registered for the grant and — for an OpenID request — the user
 * granted `offline_access` (OIDC Core §11).
 */
function refreshTokenAllowed(client: AuthenticatedClient, scopes: readonly string[]): boolean {
  if (!client.app.grantTypes.includes('refresh_token')) return false;
  return !scopes.includes('openid') || scopes.includes('offline_access');
}
