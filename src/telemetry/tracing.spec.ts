import { startTracing, tracesEndpoint } from './tracing';

describe('tracing settings', () => {
  it('traces only when an OTLP endpoint is set, the traces-specific one first', () => {
    expect(tracesEndpoint({})).toBeUndefined();
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBeUndefined();
    expect(tracesEndpoint({ OTEL_SERVICE_NAME: 'portcullis' })).toBeUndefined();
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe('http://collector:4318');
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/v1/traces' }))
      .toBe('http://traces:4318/v1/traces');
  });

  it('starts nothing without an endpoint, or with OTEL_SDK_DISABLED', () => {
    expect(startTracing({})).toBe(false);
    expect(startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
  });
});
