import type { AppEntity } from '../../clients/entities/app.entity';
import { invalidRequest, invalidScope } from '../../common/oauth/oauth-error';
import { ScopesService } from '../../clients/scopes/scopes.service';

/**
 * RFC 6749 §3.3: every requested scope must exist and be allowed for the app, else `invalid_scope` (SPEC §3).
 * No scope at all means the app's allowed scopes.
 */
export function checkScope(app: AppEntity, raw: unknown, scopes: ScopesService): string[] {
  if (raw === undefined || raw === '') return [...app.scopes];
  if (typeof raw !== 'string') throw invalidRequest('scope must appear once');
  const requested = ScopesService.parse(raw);
  if (!requested || requested.length === 0) throw invalidScope('scope is malformed');
  for (const scope of requested) {
    if (!scopes.isKnown(scope)) throw invalidScope(`unknown scope "${scope}"`);
    if (!app.scopes.includes(scope)) throw invalidScope(`scope "${scope}" is not allowed for this application`);
  }
  return requested;
}
