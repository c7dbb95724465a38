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
] as const;

/** pino `redact` paths: top level, one and two levels down, and request/response headers. */
export const REDACT_PATHS = [
  ...SECRET_FIELDS.flatMap((f) => [`["${f}"]`, `*["${f}"]`, `*.*["${f}"]`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

const SECRET_QUERY_PARAMS = new Set<string>(SECRET_FIELDS);

/** Replaces the values of secret query parameters, so `/cb?code=abc&state=x` logs as `/cb?code=[REDACTED]&state=x`. */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    let name = rawName;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      return '[REDACTED]'; // undecodable: keep nothing of it
    }
    return SECRET_QUERY_PARAMS.has(name.toLowerCase()) ? `${rawName}=[REDACTED]` : pair;
  });
  return `${url.slice(0, q)}?${query.join('&')}`;
}
