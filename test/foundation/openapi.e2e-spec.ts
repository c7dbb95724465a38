import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { PROJECT_ROOT } from '../../src/common/paths';
import { buildOpenApiDocument, serialiseOpenApi } from '../../src/openapi/openapi';
import { bootApp, TestApp } from '../helpers/app';

describe('OpenAPI document', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp();
  });
  afterAll(() => t.close());

  it('openapi.json is what the code generates (run `npm run openapi` after changing the API)', () => {
    const committed = readFileSync(join(PROJECT_ROOT, 'openapi.json'), 'utf8');
    expect(serialiseOpenApi(buildOpenApiDocument(t.app))).toBe(committed);
  });

  it('/docs serves the Swagger UI', async () => {
    const res = await request(t.url).get('/docs/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('swagger-ui');
  });

  it('/docs serves the same document as openapi.json', async () => {
    const res = await request(t.url).get('/docs/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(readFileSync(join(PROJECT_ROOT, 'openapi.json'), 'utf8')));
  });
});
