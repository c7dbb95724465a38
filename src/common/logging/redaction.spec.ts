import { redactSecrets, redactUrl } from './redaction';

describe('redactUrl', () => {
  it.each([
    ['/cb?code=abc&state=xyz', '/cb?code=[REDACTED]&state=xyz'],
    ['/t?refresh_token=r&client_secret=s&scope=a+b', '/t?refresh_token=[REDACTED]&client_secret=[REDACTED]&scope=a+b'],
    ['/t?Access_Token=x', '/t?Access_Token=[REDACTED]'],
    ['/t?%63ode=x', '/t?%63ode=[REDACTED]'],
    ['/t?%E0%A4%A=x', '/t?[REDACTED]'],
    ['/plain', '/plain'],
    ['/a?id_token_hint=h&client_assertion=c&assertion=a&subject_token=s&actor_token=t&x=1', '/a?id_token_hint=[REDACTED]&client_assertion=[REDACTED]&assertion=[REDACTED]&subject_token=[REDACTED]&actor_token=[REDACTED]&x=1'],
    [
      `/login?return_to=${encodeURIComponent('/oauth2/authorize?client_id=c&code=SECRET&state=s')}`,
      `/login?return_to=${encodeURIComponent('/oauth2/authorize?client_id=c&code=[REDACTED]&state=s')}`,
    ],
    [
      `/x?next=${encodeURIComponent(`/login?return_to=${encodeURIComponent('/cb?refresh_token=SECRET')}`)}`,
      `/x?next=${encodeURIComponent(`/login?return_to=${encodeURIComponent('/cb?refresh_token=[REDACTED]')}`)}`,
    ],
    ['/login?return_to=%2Fsafe%3Fstate%3Dx', '/login?return_to=%2Fsafe%3Fstate%3Dx'],
    [undefined, undefined],
  ])('%s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});

describe('redactSecrets', () => {
  it('censors secret fields at the top level and two levels down, in objects and arrays', () => {
    const input = {
      client_secret: 's1',
      msg: 'kept',
      body: { password: 's2', username: 'kept', nested: { refresh_token: 's3', scope: 'kept' } },
      list: [{ code: 's4', state: 'kept' }],
    };
    expect(redactSecrets(input)).toEqual({
      client_secret: '[REDACTED]',
      msg: 'kept',
      body: { password: '[REDACTED]', username: 'kept', nested: { refresh_token: '[REDACTED]', scope: 'kept' } },
      list: [{ code: '[REDACTED]', state: 'kept' }],
    });
  });

  it('never changes the object it was given, and answers it as it is when nothing is secret', () => {
    const input = { body: { token: 'secret' } };
    redactSecrets(input);
    expect(input.body.token).toBe('secret');
    const clean = { a: 1, b: { c: 'x' } };
    expect(redactSecrets(clean)).toBe(clean);
  });

  it('leaves class instances (requests, errors) to their allow-list serializers', () => {
    const err = Object.assign(new Error('boom'), { code: 'E1' });
    expect(redactSecrets({ err }).err).toBe(err);
  });

  it('censors every secret field pino-http or a caller could put in a log object', () => {
    for (const field of ['authorization', 'cookie', 'access_token', 'id_token', 'code_verifier', 'session_id', 'initial_access_token', 'subject_token']) {
      expect(redactSecrets({ x: { [field]: 'v' } })).toEqual({ x: { [field]: '[REDACTED]' } });
    }
  });
});
