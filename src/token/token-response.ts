import type { TokenResponseDto } from './dto/token.dto';
import type { SignedAccessToken } from './access-tokens.service';

/** RFC 6749 §5.1 */
export function tokenResponse(access: SignedAccessToken, scopes: readonly string[], extra: { refreshToken?: string; idToken?: string } = {}): TokenResponseDto {
  return {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    ...(extra.refreshToken ? { refresh_token: extra.refreshToken } : {}),
    scope: scopes.join(' '),
    ...(extra.idToken ? { id_token: extra.idToken } : {}),
  };
}
