import type { AppEntity } from '../../clients/entities/app.entity';
import { invalidRequest } from '../../common/oauth/oauth-error';

export interface CheckedPkce {
  readonly codeChallenge: string | null;
  readonly codeChallengeMethod: 'S256' | null;
}

/** BASE64URL(SHA256(verifier)) is always 43 characters of the base64url alphabet (RFC 7636 §4.2). */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * RFC 7636, OAuth 2.1 §4.1.1, RFC 9700 §2.1.1: PKCE with S256 only — `plain` (or no method, which RFC 7636 reads
 * as plain) would be a downgrade. Required for public clients always, and for every client unless
 * OAUTH2_REQUIRE_PKCE=false.
 */
export function checkPkce(app: AppEntity, challenge: unknown, method: unknown, requireForAll: boolean): CheckedPkce {
  if (challenge === undefined || challenge === '') {
    if (method !== undefined && method !== '') throw invalidRequest('code_challenge_method without code_challenge');
    const required = requireForAll || app.tokenEndpointAuthMethod === 'none';
    if (required) throw invalidRequest('code_challenge is required (PKCE with S256)');
    return { codeChallenge: null, codeChallengeMethod: null };
  }
  if (typeof challenge !== 'string' || typeof (method ?? '') !== 'string') throw invalidRequest('code_challenge and code_challenge_method must appear once');
  if (method !== 'S256') throw invalidRequest('code_challenge_method must be S256');
  if (!S256_CHALLENGE.test(challenge)) throw invalidRequest('code_challenge must be 43 base64url characters (S256)');
  return { codeChallenge: challenge, codeChallengeMethod: 'S256' };
}
