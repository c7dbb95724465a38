import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { ProbeModule } from '../helpers/probe.module';

/** SPEC §7: no secret, token or password in any log line. Plant some everywhere and read the captured log. */
describe('log redaction', () => {
  let t: TestApp;
  const secrets = {
    bearer: 'planted-bearer-4f1c9e',
    cookie: 'planted-session-77ab10',
    code: 'planted-code-91d2c3',
    refresh: 'planted-refresh-0a8e55',
    clientSecret: 'planted-client-secret-6be0f4',
    password: 'planted-password-c3d9a1',
    access: 'planted-access-5e7b22',
  };

  beforeAll(async () => {
    t = await bootApp({ extraModules: [ProbeModule], env: { LOG_LEVEL: 'trace' } });
    await request(t.url).get(`/oauth2/probe/boom?code=${secrets.code}&state=visible-state`)
      .set('Authorization', `Bearer ${secrets.bearer}`).set('Cookie', `session_id=${secrets.cookie}`);
    await request(t.url).post(`/oauth2/probe?refresh_token=${secrets.refresh}&access_token=${secrets.access}`)
      .type('form').send({ client_secret: secrets.clientSecret, password: secrets.password, name: 'x', count: 'nope' });
    await request(t.url).post('/api/v1/probe').set('Authorization', `Basic ${Buffer.from(`id:${secrets.clientSecret}`).toString('base64')}`)
      .send({ password: secrets.password, name: 1 });
    await request(t.url).get('/api/v1/probe/boom').set('Cookie', `session_id=${secrets.cookie}`);
  });
  afterAll(() => t.close());

  it('captured the requests it is checked against', () => {
    const urls = t.logs.entries().map((e) => (e.req as { url?: string } | undefined)?.url).filter(Boolean);
    expect(urls).toEqual(expect.arrayContaining([
      '/oauth2/probe/boom?code=[REDACTED]&state=visible-state',
      '/oauth2/probe?refresh_token=[REDACTED]&access_token=[REDACTED]',
      '/api/v1/probe',
    ]));
  });

  it('logged the unexpected error with its stack', () => {
    expect(t.logs.text).toContain('internal detail');
  });

  it.each(Object.entries(secrets))('never contains the planted %s', (_name, secret) => {
    expect(t.logs.text).not.toContain(secret);
  });
});
