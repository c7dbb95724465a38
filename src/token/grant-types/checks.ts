import { createHash } from 'node:crypto';
import { invalidGrant, invalidScope, invalidTarget } from '../../common/oauth/oauth-error';
import { ScopesService } from '../../clients/scopes/scopes.service';
import { checkAllowedResource, checkResource } from '../../authorize/checks/check-resource';

/** RFC 7636 §4.1: 43–128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~". */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) must equal the stored challenge. A verifier sent for a code that
 * had no challenge is refused too: that is the PKCE downgrade of RFC 9700 §4.8.2.
 */
export function checkCodeVerifier(challenge: string | null, verifier: string | undefined, safeEqual: (a: string, b: string) => boolean): void {
  if (!challenge) {
    if (verifier !== undefined) throw invalidGrant('code_verifier sent, but the authorization request had no code_challenge');
    return;
  }
  if (verifier === undefined) throw invalidGrant('code_verifier is required');
  if (!VERIFIER.test(verifier)) throw invalidGrant('code_verifier must be 43-128 unreserved characters');
  const computed = createHash('sha256').update(verifier, 'ascii').digest('base64url');
  if (!safeEqual(computed, challenge)) throw invalidGrant('code_verifier does not match the code_challenge');
}

/** RFC 6749 §6 / §3.3: a requested scope may narrow what was granted, never widen it. */
export function checkNarrowedScope(requested: string | undefined, granted: readonly string[]): string[] {
  if (requested === undefined || requested === '') return [...granted];
  const scopes = ScopesService.parse(requested);
  if (!scopes || scopes.length === 0) throw invalidScope('scope is malformed');
  const extra = scopes.filter((s) => !granted.includes(s));
  if (extra.length) throw invalidScope(`scope may not exceed what was granted: ${extra.join(' ')}`);
  return scopes;
}

/**
 * RFC 8707 §2.2: a token request may name only a resource that was authorized, and that the app may still ask for
 * (its `allowed_resources`, which an admin may have narrowed since): else invalid_target. Naming none means every
 * authorized resource the app may still ask for, as scopes are cut to what the app allows now (SPEC §4); when
 * the grant had resources and none is left, invalid_target too, rather than a token for this server instead.
 */
export function checkAuthorizedResource(requested: string | undefined, authorized: readonly string[], allowed: (resource: string) => boolean): string[] {
  const resources = checkResource(requested);
  if (resources.length === 0) {
    const still = authorized.filter(allowed);
    if (still.length === 0 && authorized.length > 0) throw invalidTarget('none of the resources of this grant is allowed for this client any more');
    return still;
  }
  if (!resources.every((r) => authorized.includes(r))) throw invalidTarget('resource was not authorized for this grant');
  checkAllowedResource(resources, allowed);
  return resources;
}
