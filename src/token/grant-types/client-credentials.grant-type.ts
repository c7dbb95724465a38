import { Inject, Injectable } from '@nestjs/common';
import { allowsResource } from '../../clients/allowed-resources';
import type { AuthenticatedClient } from '../../clients/authentication/client-authentication.service';
import { checkAllowedResource, checkResource } from '../../authorize/checks/check-resource';
import { ScopesService } from '../../clients/scopes/scopes.service';
import { invalidScope, unauthorizedClient } from '../../common/oauth/oauth-error';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { AccessTokensService } from '../access-tokens.service';
import { TokenRequestDto, TokenResponseDto } from '../dto/token.dto';
import { tokenResponse } from '../token-response';
import { GrantTypeHandler } from './grant-type';

/** Scopes about a user or this server's own API make no sense for a client acting as itself. */
const USER_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access', 'account', 'admin']);

/**
 * RFC 6749 §4.4: a confidential client acting on its own behalf (`sub` is its client_id, RFC 9068 §2.2). No
 * refresh token (§4.4.3).
 */
@Injectable()
export class ClientCredentialsGrantType implements GrantTypeHandler {
  readonly grantType = 'client_credentials';

  constructor(
    private readonly accessTokens: AccessTokensService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async handle(client: AuthenticatedClient, request: TokenRequestDto): Promise<TokenResponseDto> {
    if (client.method === 'none') throw unauthorizedClient('client_credentials needs a confidential client');
    const allowed = client.app.scopes.filter((s) => !USER_SCOPES.has(s));
    let scopes = allowed;
    if (request.scope !== undefined && request.scope !== '') {
      const requested = ScopesService.parse(request.scope);
      if (!requested?.length) throw invalidScope('scope is malformed');
      const refused = requested.filter((s) => !allowed.includes(s));
      if (refused.length) throw invalidScope(`scope not allowed for this client: ${refused.join(' ')}`);
      scopes = requested;
    }
    const resources = checkResource(request.resource);
    checkAllowedResource(resources, allowsResource(client.app, this.config.authorizationServer.issuerUrl));
    const access = await this.accessTokens.sign({ subject: client.app.clientId, clientId: client.app.clientId, scopes, resources });
    return tokenResponse(access, scopes);
  }
}
