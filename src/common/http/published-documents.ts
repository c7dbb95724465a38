import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { markRoute } from '../metrics/http-route';

/** A JSON document served as it is, to anyone: discovery metadata and the JWKS. */
export interface PublishedDocument {
  readonly body: Buffer;
  readonly etag: string;
  readonly cacheControl: string;
}

/** Serialises once; the ETag lets caches revalidate with a 304. */
export function publishedDocument(value: unknown, cacheControl: string): PublishedDocument {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`, cacheControl };
}

/**
 * Answers GET and HEAD of the exact paths given from prebuilt buffers, ahead of routing, parsing and guards:
 * discovery and the JWKS are fetched by every client and every resource server, and their answer depends on
 * nothing in the request. Mounted after the request id, the security headers and CORS, which still apply; any
 * other path, or one with a query string, goes on to the regular routes.
 */
export function servePublishedDocuments(documents: ReadonlyMap<string, () => PublishedDocument>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const get = (req.method === 'GET' || req.method === 'HEAD') && documents.get(req.url);
    if (!get) return next();
    const document = get();
    // Its exact path is one of the few this serves, fixed by configuration: it names the route in /metrics.
    markRoute(req, req.url);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', document.cacheControl);
    res.setHeader('ETag', document.etag);
    if (req.headers['if-none-match'] === document.etag) {
      res.statusCode = 304;
      res.end();
      return;
    }
    res.setHeader('Content-Length', document.body.length);
    res.end(req.method === 'HEAD' ? undefined : document.body);
  };
}
