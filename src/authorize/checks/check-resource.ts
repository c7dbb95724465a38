import { invalidTarget } from '../../common/oauth/oauth-error';
import { isResourceIndicator } from '../../common/oauth/resource-indicator';

/** RFC 8707 §2: each `resource` is an absolute URI without a fragment; it may repeat. */
export function checkResource(raw: unknown): string[] {
  if (raw === undefined || raw === '') return [];
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length > 10) throw invalidTarget('too many resource parameters');
  return [...new Set(values.map((value) => {
    if (typeof value !== 'string' || !isResourceIndicator(value)) {
      throw invalidTarget('resource must be an absolute URI without a fragment');
    }
    return value;
  }))];
}

/**
 * RFC 8707 §2 with the app's `allowed_resources`: a resource the admin did not allow the app is invalid_target,
 * like one the server does not know.
 */
export function checkAllowedResource(resources: readonly string[], allowed: (resource: string) => boolean): void {
  const refused = resources.filter((r) => !allowed(r));
  if (refused.length) throw invalidTarget(`resource not allowed for this client: ${refused.join(' ')}`);
}
