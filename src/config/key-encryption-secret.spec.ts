import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withEmbeddedKeyEncryptionSecret } from './key-encryption-secret';
import { loadConfig } from './load-config';

describe('the embedded key encryption secret', () => {
  const configIn = (dir: string, env: Record<string, string> = {}) => loadConfig({ DATA_DIR: dir, ...env });

  it('is generated on the first start (mode 0600) and read on the next', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kes-'));
    const first = withEmbeddedKeyEncryptionSecret(configIn(dir)).authorizationServer.keyEncryptionSecret;
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(join(dir, 'key-encryption-secret')).mode & 0o777).toBe(0o600);
    expect(withEmbeddedKeyEncryptionSecret(configIn(dir)).authorizationServer.keyEncryptionSecret).toBe(first);
  });

  it('leaves a configured secret alone and writes no file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kes-'));
    const config = withEmbeddedKeyEncryptionSecret(configIn(dir, { KEY_ENCRYPTION_SECRET: 'configured-secret-123' }));
    expect(config.authorizationServer.keyEncryptionSecret).toBe('configured-secret-123');
    expect(() => readFileSync(join(dir, 'key-encryption-secret'))).toThrow();
  });

  it('refuses an empty or truncated file rather than storing keys unencrypted', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kes-'));
    writeFileSync(join(dir, 'key-encryption-secret'), '\n', { mode: 0o600 });
    expect(() => withEmbeddedKeyEncryptionSecret(configIn(dir))).toThrow(/holds no usable key encryption secret/);
  });
});
