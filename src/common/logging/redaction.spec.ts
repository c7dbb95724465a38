import { redactUrl } from './redaction';

describe('redactUrl', () => {
  it.each([
    ['/cb?code=abc&state=xyz', '/cb?code=[REDACTED]&state=xyz'],
    ['/t?refresh_token=r&client_secret=s&scope=a+b', '/t?refresh_token=[REDACTED]&client_secret=[REDACTED]&scope=a+b'],
    ['/t?Access_Token=x', '/t?Access_Token=[REDACTED]'],
    ['/t?%63ode=x', '/t?%63ode=[REDACTED]'],
    ['/t?%E0%A4%A=x', '/t?[REDACTED]'],
    ['/plain', '/plain'],
    [undefined, undefined],
  ])('%s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});
