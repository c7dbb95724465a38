import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
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
    },
    autoLogging: { ignore: (req: IncomingMessage) => req.url === '/healthz' },
    customLogLevel: (_req: IncomingMessage, res: { statusCode: number }, err?: Error) =>
      err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
  };
  return { pinoHttp: destination ? [options, destination] : options };
}
