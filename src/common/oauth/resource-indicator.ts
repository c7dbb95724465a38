/**
 * RFC 8707 §2: a resource indicator is an absolute URI (RFC 3986 §4.3) without a fragment. Compared as a string
 * wherever it is matched (a grant's resources, an app's allowed resources), so it is never normalised.
 */
export function isResourceIndicator(value: string): boolean {
  if (value.length > 2000 || value.includes('#') || !/^[a-z][a-z0-9+.-]*:/i.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}
