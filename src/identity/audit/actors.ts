import type { Principal } from '../auth/principal';
import type { AuditActor } from './audit-event-types';

export const userActor = (user: { readonly id: string; readonly username: string }): AuditActor => ({ type: 'user', id: user.id, name: user.username });

/** A client is known by its client_id, the name everyone outside the database uses for it. */
export const clientActor = (app: { readonly clientId: string; readonly name: string }): AuditActor => ({ type: 'client', id: app.clientId, name: app.name });

/**
 * Who an `/api` caller is. A delegated token (RFC 8693) acts for its `sub`, but whoever it names in `act` is the
 * one acting: that is who the trail records.
 */
export function principalActor(principal: Principal): AuditActor {
  if (principal.kind === 'service_account') return { type: 'service_account', id: principal.serviceAccountId, name: principal.name };
  const act = principal.act;
  if (act && typeof act.sub === 'string') {
    return typeof act.service_account === 'string'
      ? { type: 'service_account', id: act.sub, name: act.service_account }
      : { type: 'user', id: act.sub, name: typeof act.username === 'string' ? act.username : null };
  }
  return { type: 'user', id: principal.userId, name: principal.username };
}
