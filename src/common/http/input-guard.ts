import type { NextFunction, Request, Response } from 'express';
import { invalidRequest } from '../oauth/oauth-error';

/**
 * JSON bodies nest at most this deep. No request of SPEC §2 needs more than three levels; deeper ones are refused
 * before validation, whose recursion a body of ~2,000 levels would overflow (SPEC §7 "deep nesting").
 */
export const MAX_JSON_DEPTH = 16;

/** U+0000, or a UTF-16 surrogate that is not half of a pair: no text we accept contains either. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The one guard against input no endpoint can mean (SPEC §7): a NUL byte or a lone surrogate anywhere in the query,
 * a form or JSON body (names and values), or HTTP Basic credentials, and JSON nested deeper than MAX_JSON_DEPTH.
 * Such a request stops here with a 400 that HttpErrorFilter writes in the endpoint's own format (RFC 6749 JSON,
 * problem+json, or the HTML error page), before anything reads it — so nothing downstream has to defend against
 * strings PostgreSQL refuses (a NUL in text) or that cannot be encoded back to UTF-8.
 */
export function inputGuard(req: Request, _res: Response, next: NextFunction): void {
  const problem = describeQuery(req.query) ?? describeBody(req.body) ?? describeBasic(req.headers.authorization);
  next(problem ? invalidRequest(problem) : undefined);
}

function describeQuery(query: unknown): string | undefined {
  return inspect(query, 4) === 'forbidden' ? 'the query string holds a NUL byte or an invalid character' : undefined;
}

function describeBody(body: unknown): string | undefined {
  if (body === undefined || body === null || typeof body !== 'object') return undefined;
  const found = inspect(body, MAX_JSON_DEPTH);
  if (found === 'too deep') return `the request body nests deeper than ${MAX_JSON_DEPTH} levels`;
  return found ? 'the request body holds a NUL byte or an invalid character' : undefined;
}

function describeBasic(authorization: string | undefined): string | undefined {
  const encoded = /^Basic\s+([A-Za-z0-9+/=]{1,2048})\s*$/i.exec(authorization ?? '')?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  let parts: string[];
  try {
    // RFC 6749 §2.3.1: each part is form-encoded, so `%00` is a NUL too.
    parts = decoded.split(':').map((p) => decodeURIComponent(p.replace(/\+/g, ' ')));
  } catch {
    return undefined; // malformed encoding: client authentication answers invalid_client
  }
  return [decoded, ...parts].some((p) => FORBIDDEN.test(p)) ? 'the HTTP Basic credentials hold a NUL byte or an invalid character' : undefined;
}

/**
 * One walk over a parsed value, without recursion (it may be thousands of levels deep): the first string (key or
 * value) holding a forbidden character, or a nesting deeper than `maxDepth`.
 */
function inspect(root: unknown, maxDepth: number): 'forbidden' | 'too deep' | undefined {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value === 'string') {
      if (FORBIDDEN.test(value)) return 'forbidden';
    } else if (value !== null && typeof value === 'object') {
      if (depth >= maxDepth) return 'too deep';
      for (const [key, child] of Object.entries(value)) {
        if (FORBIDDEN.test(key)) return 'forbidden';
        stack.push([child, depth + 1]);
      }
    }
  }
  return undefined;
}
