/**
 * Every security event the audit trail records (issue 15 item 3), with its outcome: `failure` for an attempt that
 * was refused or an attack that was detected, `success` for a change that was made. The README's "Audit trail"
 * table describes each one; the API refuses any other `type`. Names are `<what>.<happened>`.
 */
export const AUDIT_EVENT_TYPES = {
  /** The password was right: a browser session was started. */
  'sign_in.succeeded': { outcome: 'success' },
  /** The credentials were checked and refused (not a form without a CSRF token or fields). */
  'sign_in.failed': { outcome: 'failure' },
  /** The attempt that used up a sign-in limit (per address and username, or per address); not every refused one after it. */
  'sign_in.locked_out': { outcome: 'failure' },
  /** A user allowed an app on the consent page, or through the JSON authorize API. */
  'consent.granted': { outcome: 'success' },
  /** A user denied an app on the consent page (the request ends in access_denied). */
  'consent.denied': { outcome: 'failure' },
  /** A user's grant to an app was revoked, with every token issued under it. */
  'grant.revoked': { outcome: 'success' },
  /** One app session (refresh-token family) was ended. */
  'session.revoked': { outcome: 'success' },
  /** Every app session of a user was ended at once. */
  'sessions.revoked_all': { outcome: 'success' },
  /** A rotated refresh token was presented again: its family was revoked (RFC 9700 §4.14.2). */
  'refresh_token.reuse_detected': { outcome: 'failure' },
  /** A redeemed authorization code was presented again: what it minted was revoked (RFC 6749 §4.1.2). */
  'authorization_code.replay_detected': { outcome: 'failure' },
  /** A new app: by an admin (`api`), by RFC 7591 registration (`dcr`), or by a metadata document first seen (`cimd`). */
  'app.registered': { outcome: 'success' },
  /** An app's metadata was changed, or a self-registered app was reviewed. */
  'app.changed': { outcome: 'success' },
  'app.deleted': { outcome: 'success' },
  'app.secret_rotated': { outcome: 'success' },
  'signing_key.rotated': { outcome: 'success' },
  /** A user was created by an admin, or as the bootstrap admin on an empty database. */
  'user.created': { outcome: 'success' },
  /** A user's profile, password or role was changed (a demotion alone is `user.demoted`). */
  'user.changed': { outcome: 'success' },
  /** An admin became a user: their sessions and tokens ended. */
  'user.demoted': { outcome: 'success' },
  'user.deleted': { outcome: 'success' },
  /** A token for another user, naming the caller in `act` (RFC 8693). */
  'token.delegated_minted': { outcome: 'success' },
  /** A token for the caller itself, bound to its credential. */
  'token.principal_minted': { outcome: 'success' },
} as const satisfies Record<string, { readonly outcome: AuditOutcome }>;

export type AuditEventType = keyof typeof AUDIT_EVENT_TYPES;
export type AuditOutcome = 'success' | 'failure';

export const AUDIT_EVENT_TYPE_NAMES = Object.keys(AUDIT_EVENT_TYPES) as AuditEventType[];

export const isAuditEventType = (value: string): value is AuditEventType => Object.hasOwn(AUDIT_EVENT_TYPES, value);

/**
 * Who acted: a user (by session or access token), a service account, an OAuth client (at the token endpoint, or
 * registering itself), the server itself (housekeeping, the bootstrap admin), nobody known yet (a failed sign-in),
 * or an operator at the command line.
 */
export const AUDIT_ACTOR_TYPES = ['user', 'service_account', 'client', 'system', 'anonymous', 'cli'] as const;
export type AuditActorType = (typeof AUDIT_ACTOR_TYPES)[number];

/**
 * `id`: a user's or service account's id, a client's client_id; none for the others. `name`: a username, service
 * account name or client name (the OS user for `cli`). Never a secret.
 */
export interface AuditActor {
  readonly type: AuditActorType;
  readonly id?: string | null;
  readonly name?: string | null;
}

export const SYSTEM_ACTOR: AuditActor = { type: 'system' };
export const ANONYMOUS_ACTOR: AuditActor = { type: 'anonymous' };

/** Details are small and flat: names, ids, counts and lists of names — never a value the event is about. */
export type AuditDetail = string | number | boolean | null | readonly string[];
export type AuditDetails = Readonly<Record<string, AuditDetail>>;
