import { DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { MetricsController } from './metrics.controller';
import { MetricsListener } from './metrics-listener';
import { RuntimeGauges } from './runtime-gauges';

/**
 * Serves what `Metrics` (src/common/metrics) counts: `/metrics` on the main port, or on METRICS_PORT only; nothing
 * with METRICS_ENABLED=false (the path then answers 404 like any unknown one). It sits above every other module,
 * reading their state for its gauges; they only ever call `Metrics`. Traces are set up before any of this, in
 * src/telemetry/tracing.ts.
 */
@Module({})
export class ObservabilityModule {
  static forRoot(settings: AppConfig['metrics']): DynamicModule {
    if (!settings.enabled) return { module: ObservabilityModule };
    const ownPort = settings.port !== undefined;
    return {
      module: ObservabilityModule,
      controllers: ownPort ? [] : [MetricsController],
      providers: ownPort ? [RuntimeGauges, MetricsListener] : [RuntimeGauges],
      exports: ownPort ? [MetricsListener] : [],
    };
  }
}
