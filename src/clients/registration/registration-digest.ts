import type { AppEntity } from '../entities/app.entity';

/** What a registration stored: the metadata RFC 7591 §2 lets a client choose, after the checks. */
export type RegisteredMetadata = Pick<AppEntity,
  'name' | 'redirectUris' | 'grantTypes' | 'responseTypes' | 'tokenEndpointAuthMethod' | 'applicationType' | 'scopes' | 'logoUri' | 'clientUri'>;

/**
 * The metadata an app was registered with, as stored, in one canonical JSON form: fields in a fixed order, and the
 * lists that are sets (redirect URIs, grant and response types, scopes) sorted, so the same registration gives the
 * same text however its client ordered them.
 */
export function canonicalRegistration(app: RegisteredMetadata): string {
  const set = (values: readonly string[]) => [...values].sort();
  return JSON.stringify({
    client_name: app.name,
    redirect_uris: set(app.redirectUris),
    grant_types: set(app.grantTypes),
    response_types: set(app.responseTypes),
    token_endpoint_auth_method: app.tokenEndpointAuthMethod,
    application_type: app.applicationType,
    scope: set(app.scopes),
    logo_uri: app.logoUri,
    client_uri: app.clientUri,
  });
}

/** What `registration_digest` hashes: where the registration came from, and what it registered. */
export function registrationDigestInput(source: string, canonical: string): string {
  return JSON.stringify([source, canonical]);
}

/**
 * Advisory lock keys `(class, object)` under which identical registrations wait for each other, on every instance.
 * The class keeps them apart from other locks; the object is the digest's first 32 bits (two digests sharing them
 * only wait for each other too).
 */
export const REGISTRATION_LOCK_CLASS = 0x44435231; // 'DCR1'
export const registrationLockKey = (digest: string): number => Number.parseInt(digest.slice(0, 8), 16) | 0;
