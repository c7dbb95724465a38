import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { BearerTokenRegistry, BearerTokenVerifier } from '../identity/auth/bearer-token-registry';
import type { UserPrincipal } from '../identity/auth/principal';
import { UsersService } from '../identity/users/users.service';
import { AccessTokensService, InvalidAccessToken } from './access-tokens.service';
import { isPrincipalToken } from './principal-tokens.service';

/**
 * This server's own access tokens on its `/api` routes (SPEC §2): the token acts as its `sub`, limited by its
 * scopes. The user is read again on every call, so a demoted admin's `admin` scope stops working at once.
 */
@Injectable()
export class AccessTokenVerifier implements BearerTokenVerifier, OnModuleInit {
  constructor(
    private readonly accessTokens: AccessTokensService,
    private readonly users: UsersService,
    private readonly registry: BearerTokenRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async verify(token: string): Promise<UserPrincipal | undefined> {
    if (token.split('.').length !== 3) return undefined;
    try {
      // A token issued for another resource (RFC 8707) is not for this API.
      const claims = await this.accessTokens.verify(token, { audience: this.config.authorizationServer.issuerUrl });
      const user = await this.users.findTokenSubject(claims.sub, claims.iat);
      if (!user) return undefined;
      return {
        kind: 'user',
        userId: user.id,
        username: user.username,
        role: user.role,
        orgId: user.orgId,
        via: 'access_token',
        scopes: claims.scope.split(' ').filter(Boolean),
        clientId: claims.client_id,
        ...(claims.act ? { act: claims.act } : {}),
        token: { jti: claims.jti, expiresAt: new Date(claims.exp * 1000), principal: isPrincipalToken(claims) },
      };
    } catch (e) {
      if (e instanceof InvalidAccessToken) return undefined;
      throw e;
    }
  }
}
