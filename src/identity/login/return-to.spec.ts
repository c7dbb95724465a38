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
