import type { IncomingMessage } from 'node:http';
import { inspect } from 'node:util';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { requestIdOf } from '../http/request-id.middleware';
import { CENSOR, REDACT_PATHS, redactSecrets, redactUrl } from './redaction';

/** Structured JSON logs (pino), one line per request, with secrets redacted. */
export function loggerParams(level: string, destination?: DestinationStream): Params {
  const options = {
    level,
    genReqId: (req: IncomingMessage) => requestIdOf(req as never),
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    formatters: { log: redactSecrets },
    // With traces on, every line written inside a span names it, so a log line leads to its trace and back.
    mixin: traceContext,
    mixinMergeStrategy: (line: object, mixin: object) => (mixin === NO_TRACE ? line : Object.assign(mixin, line)),
    serializers: {
      req: (req: { id?: string; method?: string; url?: string; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        url: redactUrl(req.url),
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      err: serializeError,
    },
    // Probes and scrapes, every few seconds from every balancer and Prometheus: noise, not traffic.
    autoLogging: { ignore: (req: IncomingMessage) => req.url === '/healthz' || req.url === '/metrics' },
    customLogLevel: (_req: IncomingMessage, res: { statusCode: number }, err?: Error) =>
      err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
  };
  return { pinoHttp: destination ? [options, destination] : options };
}

/** Shared, never written to: the merge strategy above hands the line on untouched when there is no trace. */
const NO_TRACE = Object.freeze({});

/** The active span's ids (`trace_id`, `span_id`), as OpenTelemetry's log data model names them; none without tracing. */
export function traceContext(): object {
  const span = trace.getActiveSpan()?.spanContext();
  return span && isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : NO_TRACE;
}

/**
 * Errors are logged by an allow-list of fields: a database error carries the failed statement and its bound
 * parameters (a signing key, a secret's hash), which must never reach a log line. `code` is redacted everywhere
 * (it is the OAuth parameter), so an error's own code (a SQLSTATE, an errno) is kept as `errorCode`.
 */
export function serializeError(thrown: unknown): Record<string, unknown> {
  // pino-http hands its error serializer pino's own rendering of the error, which keeps the original as `raw`: read
  // the original, so the allow-list below applies to it (and its type is the error's, not `Object`).
  const raw = (thrown as { raw?: unknown } | null | undefined)?.raw;
  const err = !(thrown instanceof Error) && raw instanceof Error ? raw : thrown;
  // Something thrown that is not an Error (a plain object, a string): its type and a bounded rendering, and where
  // it was caught, rather than `[object Object]`.
  if (!(err instanceof Error)) {
    const type = err === null ? 'null' : typeof err === 'object' ? (err.constructor?.name ?? 'Object') : typeof err;
    return { type, message: inspect(err, { depth: 2, breakLength: Infinity, maxStringLength: 200 }).slice(0, 500), stack: new Error('thrown here').stack };
  }
  const e = err as Error & { code?: unknown; driverError?: { code?: unknown; constraint?: unknown } };
  const code = e.driverError?.code ?? e.code;
  return {
    type: e.name,
    message: e.message,
    stack: e.stack,
    ...(typeof code === 'string' || typeof code === 'number' ? { errorCode: String(code).slice(0, 32) } : {}),
    ...(typeof e.driverError?.constraint === 'string' ? { constraint: e.driverError.constraint } : {}),
  };
}
