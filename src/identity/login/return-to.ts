/**
 * `return_to` after sign-in: only a path on this origin (SPEC §2, no open redirect). It must start with exactly one
 * `/` — not `//host` nor `/\host`, which browsers read as another host — and hold no backslash or control
 * character anywhere (browsers drop tabs and newlines, so `/\t/evil` would become `//evil`). Anything else
 * falls back to `/`.
 */
export function safeReturnTo(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2048) return '/';
  if (!raw.startsWith('/') || raw.startsWith('//')) return '/';
  // eslint-disable-next-line no-control-regex
  if (/[\\\x00-\x20\x7f]/.test(raw)) return '/';
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return '/';
  }
  // A path that decodes to another host (`/%2F%2Fevil`) is harmless to browsers, but refuse it anyway: nothing
  // legitimate looks like that.
  if (decoded.startsWith('//') || decoded.startsWith('/\\')) return '/';
  const url = new URL(raw, 'http://origin.invalid');
  if (url.origin !== 'http://origin.invalid') return '/';
  return `${url.pathname}${url.search}${url.hash}`;
}
