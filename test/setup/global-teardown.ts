import type { EmbeddedDatabase } from '../../src/database/embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const cluster = (globalThis as Record<string, unknown>).__PORTCULLIS_PG__ as EmbeddedDatabase | undefined;
  await cluster?.stop();
}
