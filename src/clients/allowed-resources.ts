import { isResourceIndicator } from '../common/oauth/resource-indicator';
import { unsafeTextProblem } from '../common/text/display-text';
import type { AppEntity } from './entities/app.entity';
import { MetadataError } from './registration/client-metadata';

/** Enough for an app that calls a few APIs; a longer list is refused, as redirect_uris are. */
export const MAX_ALLOWED_RESOURCES = 20;

/**
 * The admin API's `allowed_resources` (never taken from a self-registration): null for no limit, or at most 20
 * resource indicators (RFC 8707 §2: absolute URIs without a fragment, and no spaces or control characters, which
 * no URI has). Matched as strings, so they are kept as given; repeats are dropped.
 */
export function checkAllowedResources(value: unknown): string[] | null {
  if (value === null) return null;
  if (!Array.isArray(value)) throw invalid('allowed_resources', 'allowed_resources must be null (no limit) or an array of absolute URIs');
  if (value.length > MAX_ALLOWED_RESOURCES) throw invalid('allowed_resources', `allowed_resources may hold at most ${MAX_ALLOWED_RESOURCES} URIs`);
  return [...new Set(value.map((uri, i) => {
    const problem = resourceProblem(uri);
    if (problem) throw invalid(`allowed_resources/${i}`, `allowed_resources[${i}] ${problem}`);
    return uri as string;
  }))];
}

function resourceProblem(uri: unknown): string | undefined {
  if (typeof uri !== 'string' || uri === '') return 'must be a non-empty string';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(uri)) return 'must not contain spaces or control characters';
  const unsafe = unsafeTextProblem(uri);
  if (unsafe) return unsafe;
  if (uri.includes('#')) return 'must not contain a fragment';
  return isResourceIndicator(uri) ? undefined : 'must be an absolute URI of at most 2000 characters';
}

/**
 * Which resources (RFC 8707) this app may ask for: any when the admin set no list; else those listed, and always
 * the issuer itself, whether named or implied by naming none. A token for the issuer is good only at this server's
 * own API and userinfo, where the app's scopes already decide what it may do; so limiting an app to the APIs it
 * calls never stops it signing people in or using `/api` within its scopes.
 */
export function allowsResource(app: Pick<AppEntity, 'allowedResources'>, issuer: string): (resource: string) => boolean {
  const allowed = app.allowedResources;
  return (resource) => !allowed || resource === issuer || allowed.includes(resource);
}

const invalid = (field: string, description: string) => new MetadataError('invalid_client_metadata', field, description);
