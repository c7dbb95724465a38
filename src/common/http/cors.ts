import cors from 'cors';
import type { NextFunction, Request, Response } from 'express';

/**
 * Browser-based clients (SPAs, the MCP Inspector) call discovery (every well-known URL, the protected resource
 * metadata of RFC 9728 included), JWKS, token, revocation, introspection, registration and userinfo from other
 * origins (SPEC §2). These take no cookies, so any origin may call them.
 * The authorization endpoint and the HTML pages never answer CORS: they are navigated to, not fetched.
 */
const CORS_PATH = /(^|\/)\.well-known\/|^\/oauth2\/(jwks|token|revoke|introspect|register|userinfo|scopes)\/?$/;

const allowAnyOrigin = cors({
  origin: '*',
  methods: ['GET', 'POST', 'OPTIONS'],
  allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id', 'MCP-Protocol-Version'],
  exposedHeaders: ['WWW-Authenticate', 'X-Request-Id', 'Retry-After'],
  maxAge: 600,
});

export function protocolCors(req: Request, res: Response, next: NextFunction): void {
  if (CORS_PATH.test(req.path)) allowAnyOrigin(req, res, next);
  else next();
}
