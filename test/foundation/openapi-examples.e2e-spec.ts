import request from 'supertest';
import { buildOpenApiDocument } from '../../src/openapi/openapi';
import { bootApp, TestApp } from '../helpers/app';
import { signIn } from '../helpers/identity';
import { ApiOperation, operationsOf, requestBodySamples } from '../helpers/openapi-samples';

/**
 * "The API's own examples are valid requests": for every /api operation with a JSON body, the body Swagger UI
 * fills in (a sample of the schema built from the properties' examples, test/helpers/openapi-samples.ts) is
 * accepted when an admin sends it. The examples tell one story — org `acme`, user `alice`, service account
 * `billing-sync`, app `billing-dashboard` at https://billing.example.com — so they are sent as an admin would try
 * them: first the creations, then what acts on what they created, in the document's order.
 *
 * No example can name an object that exists wherever it is tried. So, as an admin would, the test puts in the
 * ids of the objects the examples created: in a path's `{id}`, the object created at the path before it; in a
 * body, `sub` (a user) and `client_id` (an app). Optional references have the example null (absent: the default).
 */
describe('the examples of the OpenAPI document', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await bootApp();
    admin = await signIn(t);
  });
  afterAll(() => t.close());

  it('are accepted, every request body of every /api operation, sent in turn by an admin', async () => {
    const document = buildOpenApiDocument(t.app);
    const withBodies = operationsOf(document).filter((op) => op.path.startsWith('/api/') && requestBodySamples(document, op));
    const isCreation = (op: ApiOperation) => op.method === 'post' && withBodies.some((other) => other.path.startsWith(`${op.path}/{`));
    const created = new Map<string, Record<string, unknown>>();
    const results: { operation: string; status: number | 'not sent'; body?: unknown }[] = [];

    for (const op of [...withBodies.filter(isCreation), ...withBodies.filter((op) => !isCreation(op))]) {
      const operation = `${op.method.toUpperCase()} ${op.path}`;
      for (const sample of requestBodySamples(document, op) ?? []) {
        let path: string, body: Record<string, unknown>;
        try {
          [path, body] = [concretePath(op.path, created), withReferences(sample as Record<string, unknown>, created)];
        } catch (e) {
          results.push({ operation, status: 'not sent', body: (e as Error).message });
          continue;
        }
        const res = await request(t.url)[op.method as 'post' | 'patch'](path).set('Cookie', admin).send(body);
        if (isCreation(op) && res.status === 201) created.set(op.path, res.body);
        results.push({ operation, status: res.status, ...(res.status >= 300 ? { body: res.body } : {}) });
      }
    }

    expect(results.filter((r) => typeof r.status !== 'number' || r.status >= 300)).toEqual([]);
    // Not vacuous: the admin API's creations and changes, the delegated token and the JSON authorize were all sent.
    expect(results.map((r) => r.operation)).toEqual(expect.arrayContaining([
      'POST /api/v1/oauth2/apps', 'PATCH /api/v1/oauth2/apps/{id}', 'POST /api/v1/users', 'PATCH /api/v1/users/{id}',
      'POST /api/v1/service-accounts', 'PATCH /api/v1/service-accounts/{id}', 'POST /api/v1/orgs', 'PATCH /api/v1/orgs/{id}',
      'POST /api/v1/oauth2/delegated-token', 'POST /api/v1/oauth2/authorize',
    ]));
  });
});

function createdAt(created: Map<string, Record<string, unknown>>, collection: string): Record<string, unknown> {
  const object = created.get(collection);
  if (!object) throw new Error(`nothing was created at ${collection} to act on`);
  return object;
}

/** `/api/v1/users/{id}` → the path of the user created at `/api/v1/users`. */
function concretePath(path: string, created: Map<string, Record<string, unknown>>): string {
  return path.replace(/\{(\w+)\}/g, (_match, name: string, offset: number) => {
    if (name !== 'id') throw new Error(`no example value for {${name}} in ${path}`);
    return String(createdAt(created, path.slice(0, offset - 1)).id);
  });
}

/** The body with its required references to other objects pointing at the ones the examples created. */
function withReferences(body: Record<string, unknown>, created: Map<string, Record<string, unknown>>): Record<string, unknown> {
  return {
    ...body,
    ...('sub' in body ? { sub: createdAt(created, '/api/v1/users').id } : {}),
    ...('client_id' in body ? { client_id: createdAt(created, '/api/v1/oauth2/apps').client_id } : {}),
  };
}
