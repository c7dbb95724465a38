import { redactUrl } from './redaction';

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
