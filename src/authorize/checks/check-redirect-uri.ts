import { isLoopback } from '../../clients/registration/client-metadata';
import type { AppEntity } from '../../clients/entities/app.entity';
import { invalidRequest } from '../../common/oauth/oauth-error';

export interface CheckedRedirectUri {
  readonly redirectUri: string;
  /** RFC 6749 §4.1.3: when the request named it, the token request must name it again. */
  readonly explicit: boolean;
}

/**
 * SPEC §3 step 1 (OAuth 2.1 §4.1.1, RFC 9700 §4.1.3): the redirect_uri must be string-equal to a registered one;
 * it may be omitted only when the app has exactly one. The one exception is RFC 8252 §7.3: a native app's
 * loopback redirect matches on any port. Failures are shown to the user, never redirected.
 */
export function checkRedirectUri(app: AppEntity, raw: unknown): CheckedRedirectUri {
  if (raw === undefined || raw === '') {
    if (app.redirectUris.length === 1) return { redirectUri: app.redirectUris[0], explicit: false };
    throw invalidRequest('redirect_uri is missing, and this application has more than one');
  }
  if (typeof raw !== 'string') throw invalidRequest('redirect_uri must appear once');
  if (app.redirectUris.includes(raw)) return { redirectUri: raw, explicit: true };
  if (app.applicationType === 'native' && app.redirectUris.some((registered) => sameLoopbackIgnoringPort(registered, raw))) {
    return { redirectUri: raw, explicit: true };
  }
  throw invalidRequest('redirect_uri is not registered for this application');
}

function sameLoopbackIgnoringPort(registered: string, requested: string): boolean {
  const a = parse(registered);
  const b = parse(requested);
  if (!a || !b || a.protocol !== 'http:' || b.protocol !== 'http:' || !isLoopback(a.hostname)) return false;
  // Compare everything but the port, as written: no normalisation beyond what the URL parser must do.
  return a.hostname === b.hostname && a.pathname === b.pathname && a.search === b.search && !b.hash && !b.username && !b.password &&
    registered.replace(/^http:\/\/[^/]+/, '') === requested.replace(/^http:\/\/[^/]+/, '');
}

function parse(uri: string): URL | undefined {
  try {
    return new URL(uri);
  } catch {
    return undefined;
  }
}
