import { CryptoService } from './crypto.service';

describe('CryptoService', () => {
  const crypto = new CryptoService();

  it('makes 256-bit base64url tokens by default, never the same twice', () => {
    const a = crypto.randomToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(crypto.randomToken()).not.toBe(a);
  });

  it('hashes with SHA-256 to hex', () => {
    expect(crypto.sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  describe('safeEqual (constant-time, SPEC §7)', () => {
    it.each([
      ['same', 'same', true],
      ['same', 'Same', false],
      ['short', 'longer-value', false],
      ['', '', true],
      ['', 'x', false],
      ['ü', 'u', false],
    ])('%j vs %j → %s', (a, b, expected) => {
      expect(crypto.safeEqual(a, b)).toBe(expected);
    });

    it('compares digests of equal length, so the inputs’ lengths do not decide the work done', () => {
      const timingSafeEqual = jest.spyOn(require('node:crypto'), 'timingSafeEqual');
      crypto.safeEqual('a', 'a-much-longer-string');
      expect(timingSafeEqual).toHaveBeenCalledWith(expect.any(Buffer), expect.any(Buffer));
      const [left, right] = timingSafeEqual.mock.calls[0] as [Buffer, Buffer];
      expect(left.length).toBe(32);
      expect(right.length).toBe(32);
      timingSafeEqual.mockRestore();
    });
  });

  it('hashes passwords with bcrypt and verifies them', async () => {
    const hash = await crypto.hashPassword('correct horse');
    expect(hash).toMatch(/^\$2[aby]\$10\$/);
    await expect(crypto.verifyPassword('correct horse', hash)).resolves.toBe(true);
    await expect(crypto.verifyPassword('wrong horse', hash)).resolves.toBe(false);
  });
});
