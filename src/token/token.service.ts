import { Inject, Injectable } from '@nestjs/common';
import type { AuthenticatedClient } from '../clients/authentication/client-authentication.service';
import { Metrics } from '../common/metrics/metrics';
import { unauthorizedClient, unsupportedGrantType } from '../common/oauth/oauth-error';
import { TokenRequestDto, TokenResponseDto } from './dto/token.dto';
import { GRANT_TYPE_HANDLERS, GRANT_TYPES_SUPPORTED, GrantTypeHandler } from './grant-types/grant-type';

/** The token endpoint (RFC 6749 §3.2): picks the grant type's handler, after the checks every grant shares. */
@Injectable()
export class TokenService {
  private readonly handlers: ReadonlyMap<string, GrantTypeHandler>;

  constructor(
    @Inject(GRANT_TYPE_HANDLERS) handlers: GrantTypeHandler[],
    private readonly metrics: Metrics,
  ) {
    this.handlers = new Map(handlers.map((h) => [h.grantType, h]));
  }

  async issue(client: AuthenticatedClient, request: TokenRequestDto): Promise<TokenResponseDto> {
    if (!GRANT_TYPES_SUPPORTED.includes(request.grant_type)) {
      throw unsupportedGrantType(`grant_type "${request.grant_type}" is not supported`);
    }
    // RFC 6749 §5.2 unauthorized_client: the app was not registered for this grant type.
    if (!client.app.grantTypes.includes(request.grant_type)) {
      throw unauthorizedClient(`this client is not registered for the ${request.grant_type} grant`);
    }
    const handler = this.handlers.get(request.grant_type);
    if (!handler) throw unsupportedGrantType(`grant_type "${request.grant_type}" is not supported`);
    const response = await handler.handle(client, request);
    this.metrics.tokenIssued(request.grant_type);
    return response;
  }
}
