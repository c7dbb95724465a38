import { Inject, Injectable } from '@nestjs/common';
import { BearerChallenge } from '../common/oauth/bearer-challenge';
import { OAuthError } from '../common/oauth/oauth-error';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { UsersService } from '../identity/users/users.service';
import { AccessTokensService, InvalidAccessToken } from '../token/access-tokens.service';

export interface UserInfo {
  sub: string;
  registered_at: number;
  name?: string;
  given_name?: string;
  family_name?: string;
  email?: string;
}

function present<T extends Record<string, string | null>>(claims: T): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== null)) as { [K in keyof T]?: string };
}

/**
 * OpenID Connect Core §5.3: claims about the token's user, by scope (SPEC §2). Userinfo takes the same tokens as
 * `/api` (audience: the issuer), so it is the same protected resource and its challenges name the same metadata.
 */
@Injectable()
export class UserInfoService {
  private readonly challenge: BearerChallenge;

  constructor(
    private readonly accessTokens: AccessTokensService,
    private readonly users: UsersService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.challenge = new BearerChallenge(config);
  }

  async claims(authorization: string | undefined): Promise<UserInfo> {
    // RFC 6750 §2.1: the Authorization header only; never the query string (SPEC §2).
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!token) {
      throw new OAuthError('invalid_request', 'send the access token as a Bearer token in the Authorization header', 401, undefined, this.challenge.headers());
    }
    let claims;
    try {
      claims = await this.accessTokens.verify(token, { audience: this.config.authorizationServer.issuerUrl });
    } catch (e) {
      if (e instanceof InvalidAccessToken) throw this.invalidToken('the access token is invalid, expired or revoked');
      throw e;
    }
    const user = await this.users.findTokenSubject(claims.sub, claims.iat);
    if (!user) throw this.invalidToken('the access token is not about a current user');
    const scopes = claims.scope.split(' ');
    // OIDC Core §5.3: userinfo is an OpenID resource; RFC 6750 §3.1 names the missing scope.
    if (!scopes.includes('openid')) {
      throw new OAuthError('insufficient_scope', 'the access token was not granted the openid scope', 403, undefined,
        this.challenge.headers({ error: 'insufficient_scope', scope: 'openid' }));
    }
    const name = [user.givenName, user.familyName].filter(Boolean).join(' ') || user.username;
    // OIDC Core §5.3.2: a claim the user has no value for is left out, not sent as null.
    return {
      sub: user.id,
      registered_at: Math.floor(user.registeredAt.getTime() / 1000),
      ...(scopes.includes('profile') ? { name, ...present({ given_name: user.givenName, family_name: user.familyName }) } : {}),
      ...(scopes.includes('email') ? present({ email: user.email }) : {}),
    };
  }

  /** RFC 6750 §3.1: the error and its challenge. */
  private invalidToken(description: string): OAuthError {
    return new OAuthError('invalid_token', description, 401, undefined, this.challenge.headers({ error: 'invalid_token', description }));
  }
}
