import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import pino from 'pino';
import { loggerParams, serializeError } from './logging';

describe('serializeError', () => {
  it('logs an Error by its type, message and stack', () => {
    const e = new TypeError('boom');
    expect(serializeError(e)).toEqual({ type: 'TypeError', message: 'boom', stack: e.stack });
  });

  it('logs a thrown plain object by its type and content, never as [object Object]', () => {
    const logged = serializeError({ reason: 'not an Error' });
    expect(logged).toEqual({ type: 'Object', message: "{ reason: 'not an Error' }", stack: expect.stringContaining('thrown here') });
    expect(JSON.stringify(logged)).not.toContain('[object Object]');
  });

  it("reads the original error from pino's rendering of it (`raw`), as pino-http passes it", () => {
    const e = new RangeError('out of range');
    const rendered = Object.create({ get raw() { return e; } }, { type: { value: 'RangeError', enumerable: true }, message: { value: 'out of range', enumerable: true } });
    expect(serializeError(rendered)).toEqual({ type: 'RangeError', message: 'out of range', stack: e.stack });
  });

  it('logs a thrown string or null by its type', () => {
    expect(serializeError('text')).toMatchObject({ type: 'string', message: "'text'" });
    expect(serializeError(null)).toMatchObject({ type: 'null', message: 'null' });
  });
});

describe('trace ids in log lines', () => {
  const lines: Record<string, unknown>[] = [];
  const options = (loggerParams('info').pinoHttp as object);
  const logger = pino(options, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const span = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };

  // What the tracing SDK registers when OTEL_EXPORTER_OTLP_ENDPOINT is set (src/telemetry/tracing.ts).
  beforeAll(() => context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()));
  afterAll(() => context.disable());
  beforeEach(() => (lines.length = 0));

  it('names the active span on every line written inside it', () => {
    context.with(trace.setSpan(context.active(), trace.wrapSpanContext(span)), () => logger.info({ requestId: 'r1' }, 'inside'));
    expect(lines[0]).toMatchObject({ trace_id: span.traceId, span_id: span.spanId, requestId: 'r1', msg: 'inside' });
  });

  it('adds nothing outside a span, and never changes the object logged', () => {
    const logged = { requestId: 'r2' };
    logger.info(logged, 'outside');
    context.with(trace.setSpan(context.active(), trace.wrapSpanContext(span)), () => logger.info(logged, 'inside'));
    expect(lines[0]).not.toHaveProperty('trace_id');
    expect(lines[1]).toHaveProperty('trace_id', span.traceId);
    expect(logged).toEqual({ requestId: 'r2' });
  });
});
