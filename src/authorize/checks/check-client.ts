import type { AppEntity } from '../../clients/entities/app.entity';
import { invalidRequest, OAuthError } from '../../common/oauth/oauth-error';

/** RFC 6749 §4.1.2.1: an unknown or missing client_id is shown to the user, never redirected (SPEC §3 step 1). */
export function checkClientId(raw: unknown): string {
  if (raw === undefined || raw === '') throw invalidRequest('client_id is missing');
  if (typeof raw !== 'string') throw invalidRequest('client_id must appear once');
  return raw;
}

export function checkClient(app: AppEntity | null): AppEntity {
  if (!app) throw new OAuthError('invalid_client', 'this application is not registered here', 400);
  if (!app.responseTypes.includes('code')) throw new OAuthError('unauthorized_client', 'this application may not use the authorization endpoint', 400);
  return app;
}
