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

/** pino `redact` paths of the serialised request and response, should a serializer ever let headers through. */
export const REDACT_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'];

const SECRET_QUERY_PARAMS = new Set<string>(SECRET_FIELDS);
const SECRET_KEYS: ReadonlySet<string> = SECRET_QUERY_PARAMS;
export const CENSOR = '[REDACTED]';
/** Secret fields are censored at the top of a log object and this many levels below it. */
const REDACT_DEPTH = 2;

/**
 * pino `formatters.log`: censors every secret field at the top level of a log object and two levels down, in
 * plain objects and arrays (serialised requests, responses and errors are allow-lists already). It replaces pino's
 * `redact` wildcards (`*.field`, `*.*.field`), which cost ~40 µs per line — more than the rest of an access-log
 * line, on every request — for a walk of a few keys. Objects are copied where something is censored, never
 * changed in place.
 */
export function redactSecrets(object: Record<string, unknown>): Record<string, unknown> {
  return censored(object, 0) as Record<string, unknown>;
}

function censored(value: unknown, depth: number): unknown {
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const clean = censored(item, depth + 1);
      if (clean !== item) (copy ??= [...value])[i] = clean;
    });
    return copy ?? value;
  }
  if (!isPlainObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = value[key];
    const clean = SECRET_KEYS.has(key) ? CENSOR : depth < REDACT_DEPTH ? censored(item, depth + 1) : item;
    if (clean !== item) (copy ??= { ...value })[key] = clean;
  }
  return copy ?? value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

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
