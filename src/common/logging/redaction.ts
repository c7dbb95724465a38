/**
 * Nothing secret is ever logged (SPEC §7). Request logs carry only method, redacted URL, status and timing —
 * never headers or bodies — and every structured field below is censored wherever it appears.
 */
export const SECRET_FIELDS = [
  'authorization',
  'cookie',
  'set-cookie',
  'password',
  'client_secret',
  'code',
  'code_verifier',
  'refresh_token',
  'access_token',
  'id_token',
  'token',
  'session_id',
  'initial_access_token',
  // Credentials of OpenID and of RFC 7521 / 7523 / 8693, which a caller may send even where we do not use them.
  'id_token_hint',
  'client_assertion',
  'assertion',
  'subject_token',
  'actor_token',
] as const;

/** pino `redact` paths: top level, one and two levels down, and request/response headers. */
export const REDACT_PATHS = [
  ...SECRET_FIELDS.flatMap((f) => [`["${f}"]`, `*["${f}"]`, `*.*["${f}"]`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

const SECRET_QUERY_PARAMS = new Set<string>(SECRET_FIELDS);

/** URLs inside URLs (a `return_to`, a `redirect_uri`) are redacted too, this many levels deep. */
const MAX_NESTING = 3;

/**
 * Replaces the values of secret query parameters, so `/cb?code=abc&state=x` logs as `/cb?code=[REDACTED]&state=x`,
 * and does the same inside any parameter value that is itself a URL with a query — `/login?return_to=…` carries a
 * whole authorization request — so a secret is never logged because it was wrapped once.
 */
export function redactUrl(url: string | undefined, depth = 0): string | undefined {
  if (!url) return url;
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    let name = rawName;
    let value = '';
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      return '[REDACTED]'; // undecodable: keep nothing of it
    }
    if (SECRET_QUERY_PARAMS.has(name.toLowerCase())) return `${rawName}=[REDACTED]`;
    if (value.includes('?')) {
      if (depth >= MAX_NESTING) return `${rawName}=[REDACTED]`;
      const inner = redactUrl(value, depth + 1)!;
      return inner === value ? pair : `${rawName}=${encodeURIComponent(inner)}`;
    }
    return pair;
  });
  return `${url.slice(0, q)}?${query.join('&')}`;
}
