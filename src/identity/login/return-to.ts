/**
 * `return_to` after sign-in: only a path on this origin (SPEC §2, no open redirect). It must start with exactly one
 * `/` — not `//host` nor `/\host`, which browsers read as another host — and hold no backslash or control
 * character anywhere (browsers drop tabs and newlines, so `/\t/evil` would become `//evil`). Anything else
 * falls back to `/`.
 *
 * The check is idempotent: what it answers passes it again unchanged. That matters because the answer is what the
 * browser is sent to, and the URL parser normalises dot segments — `/.//evil.example` resolves to the path
 * `//evil.example`, which a browser would read as another host — so the normalised form is checked as well.
 */
export function safeReturnTo(raw: unknown): string {
  const once = normalised(raw);
  return once !== undefined && normalised(once) === once ? once : '/';
}

function normalised(raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2048) return undefined;
  if (!raw.startsWith('/') || raw.startsWith('//')) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\\\x00-\x20\x7f]/.test(raw)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  // A path that decodes to another host (`/%2F%2Fevil`) is harmless to browsers, but refuse it anyway: nothing
  // legitimate looks like that.
  if (decoded.startsWith('//') || decoded.startsWith('/\\')) return undefined;
  const url = new URL(raw, 'http://origin.invalid');
  if (url.origin !== 'http://origin.invalid') return undefined;
  const path = `${url.pathname}${url.search}${url.hash}`;
  return path.startsWith('//') ? undefined : path;
}
