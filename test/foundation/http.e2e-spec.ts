import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { ProbeModule } from '../helpers/probe.module';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('HTTP foundation', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp({ extraModules: [ProbeModule] });
  });
  afterAll(() => t.close());

  describe('unknown routes', () => {
    it('answer a 404 problem+json with the request id', async () => {
      const res = await request(t.url).get('/no/such/route');
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(JSON.parse(res.text)).toEqual({ type: 'not_found', title: 'No such route', status: 404, request_id: res.headers['x-request-id'] });
    });

    it('answer a 404 problem+json under /oauth2 too', async () => {
      const res = await request(t.url).post('/oauth2/nothing-here').send({});
      expect(res.status).toBe(404);
      expect(JSON.parse(res.text)).toMatchObject({ type: 'not_found', status: 404 });
    });
  });

  describe('X-Request-Id', () => {
    it('is generated for every response', async () => {
      const res = await request(t.url).get('/healthz');
      expect(res.headers['x-request-id']).toMatch(UUID);
    });

    it('reuses a sane incoming value', async () => {
      const res = await request(t.url).get('/no/such/route').set('X-Request-Id', 'trace-abc.123:XYZ');
      expect(res.headers['x-request-id']).toBe('trace-abc.123:XYZ');
      expect(JSON.parse(res.text).request_id).toBe('trace-abc.123:XYZ');
    });

    it.each([['<script>alert(1)</script>'], ['a'.repeat(300)], ['short'], ['has space in it']])('replaces an unsafe value %#', async (value) => {
      const res = await request(t.url).get('/healthz').set('X-Request-Id', value);
      expect(res.headers['x-request-id']).toMatch(UUID);
    });

    it('appears in the request log line', async () => {
      await request(t.url).get('/readyz').set('X-Request-Id', 'log-correlation-42');
      const line = t.logs.entries().find((e) => (e.req as { id?: string } | undefined)?.id === 'log-correlation-42');
      expect(line).toMatchObject({ req: { method: 'GET', url: '/readyz' }, res: { statusCode: 200 } });
    });
  });

  describe('validation', () => {
    it('answers validation_error with invalid_fields and JSON pointers on /api', async () => {
      const res = await request(t.url).post('/api/v1/probe').send({ name: 42, count: 99, email: 'nope', address: { city: 7 } });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      const body = JSON.parse(res.text);
      expect(body).toEqual({
        type: 'validation_error',
        title: expect.any(String),
        status: 400,
        request_id: res.headers['x-request-id'],
        invalid_fields: expect.arrayContaining([
          { name: 'name', error: 'invalid_value', title: expect.stringContaining('string'), pointer: '/name' },
          { name: 'count', error: 'invalid_value', title: expect.any(String), pointer: '/count' },
          { name: 'email', error: 'invalid_value', title: expect.any(String), pointer: '/email' },
          { name: 'address.city', error: 'invalid_value', title: expect.any(String), pointer: '/address/city' },
        ]),
      });
      expect(body.invalid_fields).toHaveLength(4);
    });

    it('strips unknown fields instead of refusing them', async () => {
      const res = await request(t.url).post('/api/v1/probe').send({ name: 'a', count: 1, extra: 'ignored' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ name: 'a', count: 1 });
    });

    it('answers invalid_request on protocol endpoints', async () => {
      const res = await request(t.url).post('/oauth2/probe').type('form').send('name=a&name=b&count=1');
      expect(res.status).toBe(400);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('name') });
    });
  });

  describe('bodies', () => {
    const big = 'x'.repeat(150 * 1024);

    it('refuses a JSON body over 100 kB with 413 problem+json', async () => {
      const res = await request(t.url).post('/api/v1/probe').set('Content-Type', 'application/json').send(JSON.stringify({ name: big, count: 1 }));
      expect(res.status).toBe(413);
      expect(JSON.parse(res.text)).toMatchObject({ type: 'unspecified', status: 413, title: 'The request body is too large' });
    });

    it('refuses a form body over 100 kB with 413 in the OAuth format on protocol endpoints', async () => {
      const res = await request(t.url).post('/oauth2/probe').type('form').send(`name=${big}&count=1`);
      expect(res.status).toBe(413);
      expect(res.body).toEqual({ error: 'invalid_request', error_description: 'The request body is too large' });
    });

    it('logs what it refused (never the body), though the request logger never saw it', async () => {
      const res = await request(t.url).post('/api/v1/probe').set('Content-Type', 'application/json').set('X-Request-Id', 'too-large-body-1')
        .send(JSON.stringify({ name: big, count: 1 }));
      expect(res.status).toBe(413);
      const line = t.logs.entries().find((e) => e.requestId === 'too-large-body-1');
      expect(line).toMatchObject({ msg: 'request body refused', status: 413, reason: 'entity.too.large', path: '/api/v1/probe' });
      expect(t.logs.text).not.toContain(big.slice(0, 1000));
    });

    it('answers malformed JSON with 400, never 500', async () => {
      const res = await request(t.url).post('/api/v1/probe').set('Content-Type', 'application/json').send('{"name": "a",');
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text)).toMatchObject({ type: 'invalid_parameter', status: 400, title: 'The request body is not valid JSON' });
    });

    it('answers malformed JSON on a protocol endpoint with invalid_request', async () => {
      const res = await request(t.url).post('/oauth2/probe').set('Content-Type', 'application/json').send('{nope');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', error_description: 'The request body is not valid JSON' });
    });

    it('answers an unsupported charset with 415, never 500', async () => {
      const res = await request(t.url).post('/api/v1/probe').set('Content-Type', 'application/json; charset=klingon').send('{}');
      expect(res.status).toBe(415);
      expect(JSON.parse(res.text)).toMatchObject({ status: 415, title: 'The request body has an unsupported encoding' });
    });

    it('answers a JSON scalar body with 400', async () => {
      const res = await request(t.url).post('/api/v1/probe').set('Content-Type', 'application/json').send('"just a string"');
      expect(res.status).toBe(400);
    });

    it('answers a bad percent-encoding in the path with 400', async () => {
      const res = await request(t.url).get('/api/v1/users/%E0%A4%A');
      expect([400, 404]).toContain(res.status);
      expect(JSON.parse(res.text).status).toBe(res.status);
    });
  });

  describe('unexpected errors', () => {
    it('answer 500 internal_server_error on /api without leaking details', async () => {
      const res = await request(t.url).get('/api/v1/probe/boom');
      expect(res.status).toBe(500);
      expect(res.text).not.toContain('hunter2');
      expect(JSON.parse(res.text)).toEqual({ type: 'internal_server_error', title: 'Internal server error', status: 500, request_id: res.headers['x-request-id'] });
    });

    it('answer server_error on protocol endpoints without leaking details', async () => {
      const res = await request(t.url).get('/oauth2/probe/boom');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: 'server_error', error_description: 'the server could not complete the request' });
    });
  });

  describe('security headers', () => {
    it('are set by helmet on every response', async () => {
      const res = await request(t.url).get('/healthz');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-powered-by']).toBeUndefined();
    });
  });
});
