import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import type { NextFunction, Request, Response } from 'express';
import { requestIdOf } from '../../common/http/request-id.middleware';
import type { AuditActor } from './audit-event-types';

/**
 * Where the code now running was asked from, for the audit trail: the request's id and source address, and who
 * authenticated it once someone has. Outside a request (housekeeping) there is none, and events are the system's;
 * the CLI runs its work inside `runAsCli`.
 */
export interface AuditScope {
  readonly requestId: string | null;
  readonly sourceAddress: string | null;
  /** Set by whatever authenticates the request: the API guard, client authentication, a page's session lookup. */
  actor?: AuditActor;
}

const storage = new AsyncLocalStorage<AuditScope>();

/**
 * Opens the audit scope of a request. Mounted after the body parsers: stream-driven middleware can resume its
 * callback outside the scope it was called in. `req.ip` honours TRUST_PROXY, as the rate limits do.
 */
export function auditScopeMiddleware(req: Request, _res: Response, next: NextFunction): void {
  storage.run({ requestId: requestIdOf(req), sourceAddress: req.ip ?? null }, next);
}

/** The scope the caller runs in, if any. */
export function currentAuditScope(): AuditScope | undefined {
  return storage.getStore();
}

/** Names who the current request acts as, once it is authenticated; outside a request it does nothing. */
export function identifyActor(actor: AuditActor): void {
  const scope = storage.getStore();
  if (scope) scope.actor = actor;
}

/** Runs `work` with every event it records attributed to `actor` (a job, a script), with no request behind it. */
export function runAs<T>(actor: AuditActor, work: () => T, requestId: string | null = null): T {
  return storage.run({ requestId, sourceAddress: null, actor }, work);
}

/**
 * For the command-line tool, which calls the same services as the API: what `work` changes is recorded with actor
 * `cli`, named after the operating-system user who ran it, and one id shared by everything one command did.
 */
export function runAsCli<T>(work: () => T, name: string = userInfo().username): T {
  return runAs({ type: 'cli', name }, work, `cli-${randomUUID()}`);
}
