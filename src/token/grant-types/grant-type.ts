import type { AuthenticatedClient } from '../../clients/authentication/client-authentication.service';
import type { TokenRequestDto, TokenResponseDto } from '../dto/token.dto';

/** One RFC 6749 grant type, chosen by `grant_type` (STYLE: grant types are strategies). */
export interface GrantTypeHandler {
  readonly grantType: string;
  handle(client: AuthenticatedClient, request: TokenRequestDto): Promise<TokenResponseDto>;
}

export const GRANT_TYPE_HANDLERS = Symbol('GRANT_TYPE_HANDLERS');

/** Grant types the token endpoint serves (RFC 6749 §4.1, §6, §4.4); discovery advertises exactly these. */
export const GRANT_TYPES_SUPPORTED = ['authorization_code', 'refresh_token', 'client_credentials'];
