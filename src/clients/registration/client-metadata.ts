import { normaliseText, unsafeTextProblem } from '../../common/text/display-text';
import type { ApplicationType, AppProvenance, TokenEndpointAuthMethod } from '../entities/app.entity';
import { ScopesService } from '../scopes/scopes.service';

/**
 * Client metadata checks shared by dynamic registration (RFC 7591 §2) and the admin API, so both accept exactly
 * the same apps. Pure: the caller turns a MetadataError into its own wire format.
 */
export interface ClientMetadataInput {
  readonly redirect_uris?: unknown;
  readonly client_name?: unknown;
  readonly grant_types?: unknown;
  readonly response_types?: unknown;
  readonly token_endpoint_auth_method?: unknown;
  /** RFC 7591: a space-separated string; the admin API also takes an array. */
  readonly scope?: unknown;
  readonly logo_uri?: unknown;
  readonly client_uri?: unknown;
  readonly application_type?: unknown;
}

export interface ClientMetadata {
  readonly redirectUris: string[];
  readonly name?: string;
  readonly grantTypes: string[];
  readonly responseTypes: string[];
  readonly tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  readonly scopes: string[];
  readonly logoUri: string | null;
  readonly clientUri: string | null;
  readonly applicationType: ApplicationType;
}

export class MetadataError extends Error {
  constructor(
    /** RFC 7591 §3.2.2 error code. */
    readonly code: 'invalid_redirect_uri' | 'invalid_client_metadata',
    /** The metadata field at fault, for the admin API's `invalid_fields`. */
    readonly field: string,
    readonly description: string,
  ) {
    super(description);
    this.name = 'MetadataError';
  }
}

/** Enough for any real app; a long list is refused so a registration cannot bloat every lookup. */
export const MAX_REDIRECT_URIS = 20;
const MAX_URI_LENGTH = 2000;
const MAX_NAME_LENGTH = 200;

const GRANT_TYPES: Record<AppProvenance, readonly string[]> = {
  // RFC 7591 registrations run the user-facing flows only (SPEC §5).
  dcr: ['authorization_code', 'refresh_token'],
  cimd: ['authorization_code', 'refresh_token'],
  api: ['authorization_code', 'refresh_token', 'client_credentials'],
};
const AUTH_METHODS: readonly TokenEndpointAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'none'];

export function checkClientMetadata(input: ClientMetadataInput, provenance: AppProvenance, scopes: ScopesService): ClientMetadata {
  const grantTypes = stringList(input.grant_types, 'grant_types') ?? ['authorization_code'];
  for (const grant of grantTypes) {
    if (!GRANT_TYPES[provenance].includes(grant)) {
      throw invalid('grant_types', `grant_types: "${grant}" is not supported; use ${GRANT_TYPES[provenance].join(', ')}`);
    }
  }
  const usesCode = grantTypes.includes('authorization_code');
  if (grantTypes.includes('refresh_token') && !usesCode) {
    throw invalid('grant_types', 'grant_types: refresh_token needs authorization_code');
  }

  const responseTypes = stringList(input.response_types, 'response_types') ?? (usesCode ? ['code'] : []);
  for (const type of responseTypes) {
    if (type !== 'code') throw invalid('response_types', `response_types: "${type}" is not supported; only "code" is`);
  }
  if (usesCode !== responseTypes.includes('code')) {
    throw invalid('response_types', 'response_types must be ["code"] exactly when grant_types has authorization_code');
  }

  const method = input.token_endpoint_auth_method ?? 'client_secret_basic';
  if (typeof method !== 'string' || !(AUTH_METHODS as readonly string[]).includes(method)) {
    throw invalid('token_endpoint_auth_method', `token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
  }
  if (method === 'none' && grantTypes.includes('client_credentials')) {
    throw invalid('grant_types', 'a public client (token_endpoint_auth_method "none") cannot use client_credentials');
  }

  const applicationType = input.application_type ?? 'web';
  if (applicationType !== 'web' && applicationType !== 'native') {
    throw invalid('application_type', 'application_type must be "web" or "native"');
  }

  const redirectUris = checkRedirectUris(input.redirect_uris, usesCode);

  return {
    redirectUris,
    name: optionalText(input.client_name, 'client_name'),
    grantTypes,
    responseTypes,
    tokenEndpointAuthMethod: method as TokenEndpointAuthMethod,
    scopes: checkScopes(input.scope, provenance, scopes),
    logoUri: optionalWebUri(input.logo_uri, 'logo_uri'),
    clientUri: optionalWebUri(input.client_uri, 'client_uri'),
    applicationType,
  };
}

/**
 * RFC 7591 §2, OAuth 2.1 §2.3.1, RFC 8252 §7.3: absolute `https` URIs, or `http` on a loopback host; no
 * fragment, no credentials. Matching is by string equality later, so nothing is normalised here.
 */
function checkRedirectUris(value: unknown, required: boolean): string[] {
  if (value === undefined && !required) return [];
  if (!Array.isArray(value) || (required && value.length === 0)) {
    throw new MetadataError('invalid_redirect_uri', 'redirect_uris', 'redirect_uris must be a non-empty array of URIs');
  }
  if (value.length > MAX_REDIRECT_URIS) {
    throw new MetadataError('invalid_redirect_uri', 'redirect_uris', `redirect_uris may hold at most ${MAX_REDIRECT_URIS} URIs`);
  }
  const uris = value.map((uri, i) => {
    const problem = redirectUriProblem(uri);
    if (problem) throw new MetadataError('invalid_redirect_uri', `redirect_uris/${i}`, `redirect_uris[${i}] ${problem}`);
    return uri as string;
  });
  return [...new Set(uris)];
}

function redirectUriProblem(uri: unknown): string | undefined {
  if (typeof uri !== 'string' || uri === '') return 'must be a non-empty string';
  if (uri.length > MAX_URI_LENGTH) return `must be at most ${MAX_URI_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f\\]/.test(uri)) return 'must not contain spaces, control characters or backslashes';
  const unsafe = unsafeTextProblem(uri);
  if (unsafe) return unsafe;
  if (uri.includes('#')) return 'must not contain a fragment';
  const url = parseAbsolute(uri);
  if (!url) return 'must be an absolute URI';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') return isLoopback(url.hostname) ? undefined : 'must use https (http is allowed only on a loopback host)';
  return `must use https, not ${url.protocol.replace(/:$/, '')}`;
}

/** RFC 8252 §7.3 (and §8.3: `localhost` is accepted as well, though the literal IP is preferred). */
export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function parseAbsolute(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return /^[a-z][a-z0-9+.-]*:/i.test(value) ? url : undefined;
  } catch {
    return undefined;
  }
}

function checkScopes(value: unknown, provenance: AppProvenance, scopes: ScopesService): string[] {
  // No scope named: every scope but `admin` (an admin adds it explicitly when an app needs it); for a
  // self-registered app, nothing privileged at all.
  if (value === undefined || value === null) return scopes.defaultFor(provenance);
  let names: string[] | undefined;
  if (typeof value === 'string') names = ScopesService.parse(value);
  else if (Array.isArray(value) && value.every((s) => typeof s === 'string')) names = ScopesService.parse(value.join(' '));
  if (!names) throw invalid('scope', 'scope must be a space-separated list of scope names');
  for (const name of names) {
    if (!scopes.isKnown(name)) throw invalid('scope', `scope: "${name}" is not a scope of this server (see /oauth2/scopes)`);
    if (provenance !== 'api' && !scopes.isSelfRegistrable(name)) throw invalid('scope', `scope: "${name}" cannot be self-registered`);
  }
  return names;
}

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string') || value.length > 10) {
    throw invalid(field, `${field} must be an array of strings`);
  }
  return [...new Set(value as string[])];
}

function optionalText(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const problem = displayNameProblem(value, field);
  if (problem) throw invalid(field, problem);
  return normaliseText(value as string);
}

/**
 * A name people will read on the consent page: 1 to 200 characters after NFC normalisation, and none that can
 * reorder or hide what it says (bidi controls, zero-width and other format characters, C0/C1 controls).
 */
export function displayNameProblem(value: unknown, field: string): string | undefined {
  if (typeof value !== 'string') return `${field} must be a string of 1 to ${MAX_NAME_LENGTH} characters`;
  const name = normaliseText(value);
  if (name === '' || name.length > MAX_NAME_LENGTH) return `${field} must be a string of 1 to ${MAX_NAME_LENGTH} characters`;
  const unsafe = unsafeTextProblem(name);
  return unsafe && `${field} ${unsafe}`;
}

/** logo_uri and client_uri are shown to users: web URLs only (no `javascript:`, no `data:`). */
function optionalWebUri(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' && /[\x00-\x20\x7f]/.test(value)) throw invalid(field, `${field} must not contain spaces or control characters`);
  const unsafe = typeof value === 'string' ? unsafeTextProblem(value) : undefined;
  if (unsafe) throw invalid(field, `${field} ${unsafe}`);
  const url = typeof value === 'string' && value.length <= MAX_URI_LENGTH ? parseAbsolute(value) : undefined;
  if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname)))) {
    throw invalid(field, `${field} must be an https URL`);
  }
  return value as string;
}

const invalid = (field: string, description: string) => new MetadataError('invalid_client_metadata', field, description);
