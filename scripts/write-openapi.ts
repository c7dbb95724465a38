import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '../src/app.factory';
import { PROJECT_ROOT } from '../src/common/paths';
import { loadConfig } from '../src/config/load-config';
import { buildOpenApiDocument, serialiseOpenApi } from '../src/openapi/openapi';

/** `npm run openapi`: writes openapi.json from the code, with no database (Nest preview mode). */
async function main(): Promise<void> {
  const config = loadConfig({ LOG_LEVEL: 'silent' });
  const app = await createApp({ config, databaseUrl: 'postgres://unused@localhost/unused', preview: true });
  const file = join(PROJECT_ROOT, 'openapi.json');
  writeFileSync(file, serialiseOpenApi(buildOpenApiDocument(app)));
  await app.close();
  process.stdout.write(`wrote ${file}\n`);
}

void main();
