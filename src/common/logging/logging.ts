import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import pino, { type DestinationStream } from 'pino';
import { requestIdOf } from '../http/request-id.middleware';
import { REDACT_PATHS, redactUrl } from './redaction';

/** Structured JSON logs (pino), one line per request, with secrets redacted. */
export function loggerParams(level: string, destination?: DestinationStream): Params {
  const options = {
    level,
    genReqId: (req: IncomingMessage) => requestIdOf(req as never),
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    serializers: {
      req: (req: { id?: string; method?: string; url?: string; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        url: redactUrl(req.url),
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      // `code` is redacted everywhere (it is the OAuth parameter); an error's own code (a SQLSTATE, an errno)
      // is kept under another name so failures stay diagnosable.
      err: (err: Error & { code?: unknown }) => ({ ...pino.stdSerializers.err(err), errorCode: typeof err.code === 'string' ? err.code.slice(0, 32) : err.code }),
    },
    autoLogging: { ignore: (req: IncomingMessage) => req.url === '/healthz' },
    customLogLevel: (_req: IncomingMessage, res: { statusCode: number }, err?: Error) =>
      err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
  };
  return { pinoHttp: destination ? [options, destination] : options };
}
