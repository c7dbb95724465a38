// First of all: traces (when OTEL_EXPORTER_OTLP_ENDPOINT is set) need http, express and pg patched as they load.
import './telemetry/start';
import 'reflect-metadata';
import { join } from 'node:path';
import pino from 'pino';
import { createApp } from './app.factory';
import { ConfigError } from './config/app-config';
import { withEmbeddedKeyEncryptionSecret } from './config/key-encryption-secret';
import { loadConfig } from './config/load-config';
import { EmbeddedDatabase, EmbeddedPostgresError, startEmbeddedPostgres } from './database/embedded-postgres';
import { Shutdown } from './health/shutdown';
import { runtimeState } from './runtime-state';
import { stopTracing } from './telemetry/tracing';

/** Start-up: validate the settings, bring up the database, serve; stop it all cleanly on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let config = loadConfig(process.env);

  let embedded: EmbeddedDatabase | undefined;
  if (!config.databaseUrl) {
    embedded = await startEmbeddedPostgres({ dir: join(config.dataDir, 'postgres'), database: 'portcullis' });
    process.stdout.write(`portcullis: embedded PostgreSQL on 127.0.0.1:${embedded.port}, data in ${join(config.dataDir, 'postgres')}\n`);
    config = withEmbeddedKeyEncryptionSecret(config);
  }
  const stopDatabase = async () => embedded?.stop();

  // Log lines are written asynchronously: under load, many per write instead of one write per line on the event
  // loop (the benchmark's profile of the token endpoint). Nothing waits in a buffer when the server is quiet, and
  // what is pending is written out when the process exits.
  const logDestination = pino.destination({ dest: 1, sync: false });
  process.on('exit', () => logDestination.flushSync());

  try {
    const app = await createApp({ config, databaseUrl: config.databaseUrl ?? embedded!.url, logDestination });
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`portcullis: ${signal} received, shutting down\n`);
      // Ctrl-C in a terminal stops at once; SIGTERM (an orchestrator, a rolling restart) drains first.
      const drainDelayMs = signal === 'SIGTERM' ? config.shutdown.drainDelayMs : 0;
      const { timeoutMs } = config.shutdown;
      const force = setTimeout(() => process.exit(1), drainDelayMs + timeoutMs + 10_000).unref();
      // Readiness down, keep serving for the drain delay, stop accepting, let what is in flight finish.
      const cut = await app.get(Shutdown).drain(app.getHttpServer(), drainDelayMs, timeoutMs).catch((e) => {
        process.stderr.write(`portcullis: error while draining: ${String(e)}\n`);
        return 0;
      });
      if (cut > 0) process.stderr.write(`portcullis: ${cut} connection(s) still open after SHUTDOWN_TIMEOUT were cut\n`);
      await app.close().catch((e) => process.stderr.write(`portcullis: error while closing: ${String(e)}\n`));
      await stopTracing();
      await stopDatabase();
      clearTimeout(force);
      process.exit(0);
    };
    // Our own handlers replace Nest's (enableShutdownHooks would exit before the database is stopped).
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.removeAllListeners(signal);
      process.once(signal, () => void shutdown(signal));
    }
    // `kill -USR2 <pid>`: what the instance holds in memory, as one line (counts only).
    process.on('SIGUSR2', () => process.stdout.write(`portcullis: state ${JSON.stringify(runtimeState(app))}\n`));
    await app.listen(config.port, config.host);
    process.stdout.write(`portcullis: listening on http://${config.host}:${config.port} (issuer ${config.authorizationServer.issuerUrl})\n`);
  } catch (e) {
    await stopDatabase();
    throw e;
  }
}

main().catch(async (e: unknown) => {
  // One clear line for the errors an operator can fix; the stack for anything else.
  if (e instanceof ConfigError) process.stderr.write(`portcullis: invalid configuration: ${e.message}\n`);
  else if (e instanceof EmbeddedPostgresError) process.stderr.write(`portcullis: ${e.message}\n`);
  else process.stderr.write(`portcullis: failed to start: ${e instanceof Error ? e.stack : String(e)}\n`);
  await stopTracing();
  process.exit(1);
});
