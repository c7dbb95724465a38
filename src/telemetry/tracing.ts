import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import { redactUrl } from '../common/logging/redaction';

/**
 * OpenTelemetry traces (issue 15, item 2): when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is
 * set, every request becomes a trace — the HTTP server span, Express's route handler and each SQL statement —
 * exported over OTLP/HTTP (JSON); otherwise nothing of the SDK is even loaded.
 *
 * The instrumentations patch `http`, `express` and `pg` as they are required, so ./start.ts, which calls
 * `startTracing()`, is the first thing src/main.ts imports (compiled to CommonJS, imports run in order). This is
 * also the one place outside src/config that reads the environment: the SDK reads its own standard OTEL_*
 * variables (OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, OTEL_BSP_SCHEDULE_DELAY, OTEL_EXPORTER_OTLP_HEADERS…), and
 * it must start before the settings are loaded.
 */

/** Not traced: the balancer's probes and Prometheus, every few seconds. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** The attribute by which a span is found from a response's `X-Request-Id` (and the log lines of the request). */
export const REQUEST_ID_ATTRIBUTE = 'portcullis.request_id';

let sdk: NodeSDK | undefined;

/** Where traces go, if anywhere: the OTLP endpoint variables, as the exporter reads them. */
export function tracesEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  const value = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return value || undefined;
}

/** Starts the SDK when an endpoint is set (and OTEL_SDK_DISABLED is not). Answers whether it did. */
export function startTracing(env: NodeJS.ProcessEnv = process.env): boolean {
  const endpoint = tracesEndpoint(env);
  if (!endpoint || /^(true|1)$/i.test(env.OTEL_SDK_DISABLED ?? '')) return false;

  // Loaded only now: the SDK and its exporters are a lot of code that an instance without tracing never needs.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation, ExpressLayerType } = require('@opentelemetry/instrumentation-express') as typeof import('@opentelemetry/instrumentation-express');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  /* eslint-enable @typescript-eslint/no-require-imports */

  sdk = new NodeSDK({
    // OTEL_SERVICE_NAME wins (the SDK reads it into the resource); `portcullis` otherwise.
    serviceName: env.OTEL_SERVICE_NAME ? undefined : 'portcullis',
    traceExporter: new OTLPTraceExporter(),
    // Traces only: metrics are /metrics, logs are stdout. Without these the SDK would also export both over OTLP.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0]),
        applyCustomAttributesOnSpan: (span, request, response) => {
          if (!isServerSide(request, response)) return;
          const requestId = (response as ServerResponse).getHeader('x-request-id');
          if (typeof requestId === 'string') span.setAttribute(REQUEST_ID_ATTRIBUTE, requestId);
          // As in the logs (SPEC §7): no code, token or secret in a query, also inside a nested URL such as return_to.
          const url = request.url ?? '';
          if (url.includes('?')) {
            const redacted = redactUrl(url)!;
            span.setAttribute('url.query', redacted.slice(redacted.indexOf('?') + 1));
          }
        },
      }),
      // Route handlers only: a span per middleware (helmet, parsers, CORS…) would outnumber everything else.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      // Statements inside a request; the LISTEN connection and housekeeping would each start a trace of their own.
      // Statement text only: bound parameters (hashes, secrets' hashes) are never recorded.
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
    ],
  });
  sdk.start();
  process.stdout.write(`portcullis: sending traces to ${originOf(endpoint)}\n`);
  return true;
}

/** Sends what is buffered and stops; the shutdown path awaits it before the process exits. */
export async function stopTracing(): Promise<void> {
  await sdk?.shutdown().catch((e: unknown) => process.stderr.write(`portcullis: error while flushing traces: ${String(e)}\n`));
  sdk = undefined;
}

/** An incoming request (a server span), not one this server sends (a client span: its response is an IncomingMessage). */
function isServerSide(request: unknown, response: unknown): request is IncomingMessage {
  return typeof (response as ServerResponse).getHeader === 'function' && typeof (request as IncomingMessage).url === 'string';
}

/** The endpoint without any credential it may hold. */
function originOf(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return 'the configured endpoint';
  }
}
