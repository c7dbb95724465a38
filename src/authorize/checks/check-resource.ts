import { invalidTarget } from '../../common/oauth/oauth-error';

/** RFC 8707 §2: each `resource` is an absolute URI without a fragment; it may repeat. */
export function checkResource(raw: unknown): string[] {
  if (raw === undefined || raw === '') return [];
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length > 10) throw invalidTarget('too many resource parameters');
  return [...new Set(values.map((value) => {
    if (typeof value !== 'string' || !isAbsoluteWithoutFragment(value)) {
      throw invalidTarget('resource must be an absolute URI without a fragment');
    }
    return value;
  }))];
}

function isAbsoluteWithoutFragment(value: string): boolean {
  if (value.length > 2000 || value.includes('#') || !/^[a-z][a-z0-9+.-]*:/i.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}
