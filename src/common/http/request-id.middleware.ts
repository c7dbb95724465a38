import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** A caller's own id is kept when it is short and plain; anything else is replaced, never echoed. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export interface IdentifiedRequest extends Request {
  id: string;
}

/** Gives every request an id, answers it in `X-Request-Id` (SPEC §2) and hands it to the logs and errors. */
export function requestIdMiddleware(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.header('x-request-id');
  const id = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  (req as IdentifiedRequest).id = id;
  res.setHeader('X-Request-Id', id);
  // Every page shows it (the error pages especially), so people can quote it to an administrator.
  res.locals.requestId = id;
  next();
}

export function requestIdOf(req: Request): string {
  return (req as Partial<IdentifiedRequest>).id ?? 'unknown';
}
