import type { Request, Response } from 'express';

/** What a request counts under when no route template matched it: never its path, which may hold ids. */
export const UNMATCHED = 'unmatched';

const ROUTE = Symbol('portcullis.route');

/**
 * The path of the middleware Nest mounts for every request (nestjs-pino's logger, `forRoutes('*')`): Express sets
 * it as `req.route` on its way through, so a request that matched nothing else still carries it.
 */
const EVERY_PATH = '/{*path}';

/** Our static files (views/assets), served ahead of routing. */
const ASSETS = /^\/assets\//;

/** Names the fixed route of a response written ahead of routing (the prebuilt discovery documents, the JWKS). */
export function markRoute(req: Request, template: string): void {
  (req as Request & { [ROUTE]?: string })[ROUTE] = template;
}

/**
 * The route template a finished request was answered by (`/api/v1/users/:id`), as Express matched it; a fixed
 * name for what was answered ahead of routing; `unmatched` for anything else — unknown paths, CORS preflights,
 * bodies refused before a route was chosen — so no label ever carries a raw path.
 */
export function routeTemplate(req: Request, res: Response): string {
  const route = (req as { route?: { path?: unknown } }).route;
  if (route && typeof route.path === 'string' && route.path !== EVERY_PATH) return (req.baseUrl ?? '') + route.path;
  const marked = (req as Request & { [ROUTE]?: string })[ROUTE];
  if (marked !== undefined) return marked;
  if (res.statusCode < 400 && ASSETS.test(req.originalUrl ?? '')) return '/assets/*';
  return UNMATCHED;
}
