import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { dropTestDatabase } from '../helpers/database';

describe('health', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp();
  });
  afterAll(() => t.close());

  it('/healthz answers 200 while the process lives', async () => {
    const res = await request(t.url).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
  });

  it('/readyz answers 200 when the database answers', async () => {
    const res = await request(t.url).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
  });

  it('/readyz answers 503 once the database is gone, and /healthz still 200', async () => {
    await dropTestDatabase(t.databaseUrl);
    const res = await request(t.url).get('/readyz');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text)).toMatchObject({ type: 'internal_server_error', status: 503 });
    expect((await request(t.url).get('/healthz')).status).toBe(200);
  });
});
