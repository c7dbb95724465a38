import { startTracing } from './tracing';

/**
 * Imported first of all by src/main.ts, so that the SDK, when OTEL_EXPORTER_OTLP_ENDPOINT asks for it, is in place
 * before `http`, `express` and `pg` are loaded (see ./tracing.ts).
 */
startTracing();
