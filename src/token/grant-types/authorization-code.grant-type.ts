import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AuthenticatedClient } from '../../clients/authentication/client-authentication.service';
import { CryptoService } from '../../common/crypto/crypto.service';
import { invalidGrant, invalidRequest } from '../../common/oauth/oauth-error';
import { AccessTokenDenyList } from '../../grants/access-token-deny-list.service';
import { AuthorizationCodesService } from '../../grants/authorization-codes.service';
import { GrantsService } from '../../grants/grants.service';
import { RefreshTokensService } from '../../grants/refresh-tokens.service';
import { AccessTokensService } from '../access-tokens.service';
import { TokenRequestDto, TokenResponseDto } from '../dto/token.dto';
import { tokenResponse } from '../token-response';
import { checkAuthorizedResource, checkCodeVerifier } from './checks';
import { GrantTypeHandler } from './grant-type';

/**
 * RFC 6749 §4.1.3 with OAuth 2.1 §4.1.3 and RFC 7636 §4.6, in order: the code is redeemed exactly once, belongs
 * to this client, was issued for this redirect_uri, and matches the PKCE verifier. A replayed code is refused and
 * revokes every token issued from it (RFC 6749 §4.1.2).
 */
@Injectable()
export class AuthorizationCodeGrantType implements GrantTypeHandler {
  readonly grantType = 'authorization_code';
  private readonly logger = new Logger('AuthorizationCodeGrant');

  constructor(
    private readonly dataSource: DataSource,
    private readonly codes: AuthorizationCodesService,
    private readonly refreshTokens: RefreshTokensService,
    private readonly denyList: AccessTokenDenyList,
    private readonly accessTokens: AccessTokensService,
    private readonly crypto: CryptoService,
    private readonly grants: GrantsService,
  ) {}

  async handle(client: AuthenticatedClient, request: TokenRequestDto): Promise<TokenResponseDto> {
    if (!request.code) throw invalidRequest('code is missing');
    const raw = request.code;

    // Redemption and issuance commit together; any check that fails rolls the redemption back.
    const issued = await this.dataSource.transaction(async (tx) => {
      const code = await this.codes.consume(raw, tx);
      if (!code) return undefined;
      if (code.appId !== client.app.id) throw invalidGrant('the code was issued to another client');
      if ((code.redirectUriExplicit || request.redirect_uri !== undefined) && request.redirect_uri !== code.redirectUri) {
        throw invalidGrant('redirect_uri does not match the authorization request');
      }
      checkCodeVerifier(code.codeChallenge, request.code_verifier, (a, b) => this.crypto.safeEqual(a, b));
      const resources = checkAuthorizedResource(request.resource, code.resources);

      const access = await this.accessTokens.sign({ subject: code.userId, clientId: client.app.clientId, scopes: code.scopes, resources, authTime: code.authTime });
      await this.codes.recordAccessToken(code.id, access.jti, access.expiresAt, tx);
      const refreshToken = client.app.grantTypes.includes('refresh_token')
        ? await this.refreshTokens.issue({
            grantId: code.grantId,
            appId: code.appId,
            userId: code.userId,
            authorizationCodeId: code.id,
            scopes: code.scopes,
            resources: code.resources,
            authTime: code.authTime,
            accessTokenJti: access.jti,
            accessTokenExpiresAt: access.expiresAt,
          }, tx)
        : undefined;
      const idToken = code.scopes.includes('openid')
        ? await this.accessTokens.signIdToken({ subject: code.userId, clientId: client.app.clientId, nonce: code.nonce, authTime: code.authTime })
        : undefined;
      return { grantId: code.grantId, response: tokenResponse(access, code.scopes, { refreshToken, idToken }) };
    });
    if (issued) {
      await this.grants.markUsed(issued.grantId);
      return issued.response;
    }

    await this.revokeReplayed(raw);
    throw invalidGrant('the authorization code is invalid, expired or already used');
  }

  /** A code presented after it was redeemed: whoever holds it now, nothing it minted may stay alive. */
  private async revokeReplayed(raw: string): Promise<void> {
    const code = await this.codes.findConsumed(raw);
    if (!code) return;
    await this.refreshTokens.revokeFamilies(await this.refreshTokens.familiesFromCode(code.id));
    if (code.accessTokenJti && code.accessTokenExpiresAt) {
      await this.denyList.deny([{ jti: code.accessTokenJti, expiresAt: code.accessTokenExpiresAt }]);
    }
    this.logger.warn({ appId: code.appId, userId: code.userId }, 'authorization code replayed: its tokens are revoked');
  }
}
