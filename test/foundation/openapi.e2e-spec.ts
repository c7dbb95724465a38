import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { PROJECT_ROOT } from '../../src/common/paths';
import { buildOpenApiDocument, serialiseOpenApi } from '../../src/openapi/openapi';
import { bootApp, TestApp } from '../helpers/app';
import { operationsOf } from '../helpers/openapi-samples';

/** The order an admin works in: apps, users, service accounts, orgs, keys, the audit trail; then the protocol; health last. */
const ADMIN_ORDER = ['apps', 'users', 'service-accounts', 'orgs', 'keys', 'audit', 'me', 'tokens', 'oauth2', 'discovery', 'health'];

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

  it('gives every operation a summary', () => {
    const missing = operationsOf(buildOpenApiDocument(t.app)).filter(({ operation }) => !operation.summary?.trim());
    expect(missing.map(({ method, path }) => `${method.toUpperCase()} ${path}`)).toEqual([]);
  });

  it('declares every tag an operation uses, with a description, in the order an admin works', () => {
    const document = buildOpenApiDocument(t.app);
    const used = new Set(operationsOf(document).flatMap(({ operation }) => operation.tags ?? ['(none)']));
    expect(document.tags?.map((tag) => tag.name)).toEqual(ADMIN_ORDER);
    expect(document.tags?.filter((tag) => !tag.description?.trim())).toEqual([]);
    expect([...used].filter((name) => !ADMIN_ORDER.includes(name))).toEqual([]);
    expect(ADMIN_ORDER.filter((name) => !used.has(name))).toEqual([]);
  });

  it('offers the bearer scheme only: a browser session needs none (sign in at /login)', () => {
    const document = buildOpenApiDocument(t.app);
    expect(Object.keys(document.components?.securitySchemes ?? {})).toEqual(['bearer']);
    const schemes = new Set(operationsOf(document).flatMap(({ operation }) => (operation.security ?? []).flatMap(Object.keys)));
    expect([...schemes]).toEqual(['bearer']);
    expect(document.info.description).toContain('Sign in at [/login](/login?return_to=%2Fdocs) in this browser');
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
