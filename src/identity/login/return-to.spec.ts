import fc from 'fast-check';
import { safeReturnTo } from './return-to';

describe('safeReturnTo', () => {
  it.each([
    ['/', '/'],
    ['/account/apps', '/account/apps'],
    ['/oauth2/authorize?client_id=a&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=x', '/oauth2/authorize?client_id=a&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=x'],
  ])('keeps the same-origin path %s', (input, expected) => {
    expect(safeReturnTo(input)).toBe(expected);
  });

  it.each([
    '//evil.example',
    '//evil.example/path',
    'https://evil.example',
    'http://evil.example/',
    '/\\evil.example',
    '\\\\evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    ' //evil.example',
    '/%2F%2Fevil.example',
    '/%5Cevil.example',
    '%2F%2Fevil.example',
    'javascript:alert(1)',
    'evil.example',
    '/%E0%A4%A',
    '',
    undefined,
    ['/a', '/b'],
    '/' + 'a'.repeat(3000),
  ])('sends %j home instead', (input) => {
    expect(safeReturnTo(input)).toBe('/');
  });
});

describe('safeReturnTo is idempotent', () => {
  // What it answers is where the browser goes; if that answer failed the check itself, the check was bypassed.
  it.each(['/.//evil.example', '/a/..//evil.example', '/%2e%2e//evil.example', '/./%2e/.//evil.example/x?y=1'])(
    'refuses %s, whose normalised path would name another host',
    (input) => {
      expect(safeReturnTo(input)).toBe('/');
    },
  );

  it('answers only values that pass the check again unchanged (property, 5,000 seeded inputs)', () => {
    const pathish = fc.array(fc.constantFrom('/', '.', '..', '%2e', '%2f', '%5c', '\\', 'a', 'evil.example', '?', '#', '%', ':', '@', ' ', '\t', '%00'), { maxLength: 12 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(pathish, fc.string(), fc.webUrl().map((u) => u.replace(/^https?:/, ''))), (input) => {
        const once = safeReturnTo(input);
        expect(safeReturnTo(once)).toBe(once);
        expect(once.startsWith('/') && !once.startsWith('//') && !once.startsWith('/\\')).toBe(true);
      }),
      { seed: 20261202, numRuns: 5000 },
    );
  });
});
