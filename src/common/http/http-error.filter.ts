import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { BearerChallenge } from '../oauth/bearer-challenge';
import { asErrorDescription, OAuthError, invalidClientMetadata, invalidRedirectUri, invalidRequest, serverError } from '../oauth/oauth-error';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../../database/database-unavailable';
import { Metrics, ProtocolEndpointName } from '../metrics/metrics';
import { errorModel, statusErrorPage } from '../pages/error-page';
import { ApiProblem, ProblemBody, problemTypeForStatus } from '../problem/problem';
import { requestIdOf } from './request-id.middleware';
import { RequestValidationError } from './request-validation';

/**
 * The protocol endpoints answer RFC 6749 JSON errors; the browser pages an HTML error page; everything else RFC
 * 7807 problem+json (SPEC §2).
 */
const PROTOCOL_PATH = /^\/oauth2\//;
const PAGE_PATH = /^\/(|login|logout|account\/apps(\/[^/]+\/revoke)?|oauth2\/authorize)\/?$/;
const REGISTRATION_PATH = /^\/oauth2\/register\/?$/;
const API_PATH = /^\/api\//;
/** Machine-facing paths: whatever asks, they answer JSON (SPEC §2: every well-known URL answers JSON). */
const MACHINE_PATH = /^\/(api|oauth2|\.well-known|docs)(\/|$)|\/\.well-known\//;
/** The endpoint a protocol error counts under in /metrics: a fixed name, never the path. */
const ENDPOINT_NAME = /^\/oauth2\/(authorize|token|revoke|introspect|register|userinfo)\/?$/;

/**
 * The one place where an error becomes a response. Whatever is thrown — by a service, a check, the validation
 * pipe, the body parser or the router — is written in the format of the route it happened on. Anything
 * unexpected is logged with its stack and answered as a bare 500: no internals are ever sent.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');
  private readonly challenge: BearerChallenge;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly metrics: Metrics,
  ) {
    this.challenge = new BearerChallenge(config);
  }

  catch(thrown: unknown, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      this.logger.error({ err: thrown, requestId: requestIdOf(req) }, 'error after the response was sent');
      return;
    }
    const path = req.path ?? req.url ?? '/';
    // PostgreSQL out of reach is an outage, not a bug: 503 with Retry-After in the route's own format, a warning
    // without a stack, and the server recovers by itself when the database answers again.
    const exception = isDatabaseUnavailable(thrown) ? databaseUnavailable() : thrown;
    if (exception !== thrown) {
      this.logger.warn({ requestId: requestIdOf(req), method: req.method, path, reason: String((thrown as Error).message ?? thrown) }, 'database unavailable');
    }
    if (isBodyParserError(exception)) {
      // Refused before routing, so the request logger never saw it: say here what was refused (never the body).
      this.logger.warn({ requestId: requestIdOf(req), method: req.method, path, status: exception.status, reason: exception.type }, 'request body refused');
    }
    if (isUnexpected(exception)) {
      // The original error, with its type and stack (never `[object Object]`); the client learns nothing of it.
      this.logger.error({ err: exception, requestId: requestIdOf(req), method: req.method, path }, 'unhandled error');
    }
    if ((PAGE_PATH.test(path) && !isNotFound(exception)) || (isNotFound(exception) && wantsPage(req, path))) {
      this.writePage(res, this.toProblem(exception));
    } else if (PROTOCOL_PATH.test(path) && !isNotFound(exception)) {
      this.writeOAuthError(res, req, this.toOAuthError(exception, path));
    } else {
      this.writeProblem(res, req, this.toProblem(exception));
    }
  }

  private toOAuthError(exception: unknown, path: string): OAuthError {
    if (exception instanceof OAuthError) return exception;
    if (exception instanceof RequestValidationError) {
      const message = exception.fields.map((f) => `${f.name}: ${f.title}`).join('; ');
      if (!REGISTRATION_PATH.test(path)) return invalidRequest(message);
      return exception.fields.some((f) => f.name.startsWith('redirect_uris')) ? invalidRedirectUri(message) : invalidClientMetadata(message);
    }
    if (exception instanceof ApiProblem) return new OAuthError(oauthCodeForStatus(exception.status), exception.title, exception.status);
    const client = clientError(exception);
    if (client) return new OAuthError(oauthCodeForStatus(client.status), client.message, client.status);
    return serverError('unhandled error (logged above)');
  }

  private toProblem(exception: unknown): ApiProblem {
    if (exception instanceof ApiProblem) return exception;
    if (exception instanceof RequestValidationError) {
      return new ApiProblem('validation_error', 'The request is not valid', 400, exception.fields);
    }
    if (exception instanceof OAuthError && (exception.status < 500 || exception.code === 'temporarily_unavailable')) {
      return new ApiProblem(problemTypeForStatus(exception.status), exception.description, exception.status, undefined, exception.headers);
    }
    const client = clientError(exception);
    if (client && client.status < 500) return new ApiProblem(problemTypeForStatus(client.status), client.message, client.status);
    if (client) return new ApiProblem('internal_server_error', client.message, client.status);
    return new ApiProblem('internal_server_error', 'Internal server error', 500);
  }

  private writeOAuthError(res: Response, req: Request, error: OAuthError): void {
    this.metrics.oauthError((ENDPOINT_NAME.exec(req.path ?? '')?.[1] ?? 'other') as ProtocolEndpointName, error.code);
    if (error.status >= 500 && error.detail) {
      this.logger.error({ error: error.code, detail: error.detail, requestId: requestIdOf(req) }, 'protocol endpoint failed');
    } else if (error.detail) {
      this.logger.log({ error: error.code, detail: error.detail, requestId: requestIdOf(req) }, 'protocol error');
    }
    res.status(error.status);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    res.json({ error: error.code, error_description: asErrorDescription(error.description) });
  }

  /** A page's own format: the error page, with the status and a message safe to show. */
  private writePage(res: Response, problem: ApiProblem): void {
    res.status(problem.status);
    for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
    res.setHeader('Cache-Control', 'no-store');
    res.render('error', errorModel(statusErrorPage(problem.status, problem.title)));
  }

  private writeProblem(res: Response, req: Request, problem: ApiProblem): void {
    const body: ProblemBody = { type: problem.type, title: problem.title, status: problem.status, request_id: requestIdOf(req) };
    if (problem.invalidFields?.length) body.invalid_fields = problem.invalidFields;
    res.status(problem.status);
    for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
    // RFC 6750 §3: a 401 from the API says how to authenticate, whichever code refused the caller (the guard
    // sets its own challenge; this covers any other).
    if (problem.status === 401 && API_PATH.test(req.path ?? '') && !res.hasHeader('WWW-Authenticate')) {
      res.setHeader('WWW-Authenticate', this.challenge.value());
    }
    res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
    res.send(JSON.stringify(body));
  }
}

/** Anything that is not one of our errors nor a client error raised below our code: a bug, or a failure. */
function databaseUnavailable(): OAuthError {
  return new OAuthError('temporarily_unavailable', 'The server cannot reach its database; try again shortly', 503, undefined, {
    'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS),
  });
}

function isUnexpected(exception: unknown): boolean {
  if (exception instanceof OAuthError) return exception.status >= 500 && !exception.detail && exception.code !== 'temporarily_unavailable';
  if (exception instanceof ApiProblem) return exception.status >= 500;
  if (exception instanceof RequestValidationError || exception instanceof HttpException) return false;
  const client = clientError(exception);
  return !client || client.status >= 500;
}

/** http-errors raised by the body parser (413, 415, 400 on a bad encoding or malformed JSON). */
function isBodyParserError(exception: unknown): exception is { status: number; type: string } {
  const e = exception as { status?: unknown; type?: unknown };
  return typeof e?.type === 'string' && /^(entity|encoding|charset|request)\./.test(e.type) && typeof e.status === 'number';
}

/**
 * A browser asking for a page that does not exist gets the HTML 404 in the pages' design; API clients, and every
 * protocol or well-known path, get problem+json as before.
 */
function wantsPage(req: Request, path: string): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (MACHINE_PATH.test(path)) return false;
  return req.accepts(['application/json', 'application/problem+json', 'text/html']) === 'text/html';
}

function isNotFound(exception: unknown): boolean {
  return exception instanceof HttpException && exception.getStatus() === 404 && !(exception instanceof OAuthError);
}

/**
 * A 4xx raised below our code: Nest's HttpException (unknown route, malformed JSON) or an http-errors error from
 * the body parser (413 too large, 415 unsupported charset, 400 bad encoding). Their messages are safe to show.
 */
function clientError(exception: unknown): { status: number; message: string } | undefined {
  if (exception instanceof HttpException) {
    // Deliberate statuses (a 503 from the readiness check) keep their code; their messages are ours.
    const status = exception.getStatus();
    return { status, message: clientMessage(status, exception.message) };
  }
  const e = exception as { status?: unknown; statusCode?: unknown; expose?: unknown; type?: unknown; message?: unknown };
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined && status >= 400 && status < 500 && e.expose !== false) {
    return { status, message: clientMessage(status, String(e.message ?? ''), String(e.type ?? '')) };
  }
  return undefined;
}

function clientMessage(status: number, message: string, type = ''): string {
  if (status === 413 || type === 'entity.too.large') return 'The request body is too large';
  if (type === 'entity.parse.failed' || /JSON/.test(message)) return 'The request body is not valid JSON';
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return 'The request body has an unsupported encoding';
  if (status === 404 && message.startsWith('Cannot ')) return 'No such route';
  return message || 'The request is not valid';
}

function oauthCodeForStatus(status: number): string {
  if (status === 401) return 'invalid_client';
  if (status === 403) return 'access_denied';
  if (status >= 500) return 'server_error';
  return 'invalid_request';
}
