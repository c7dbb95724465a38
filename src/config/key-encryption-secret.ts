import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig, ConfigError } from './app-config';

/** Where the embedded setup keeps the secret it generated, beside the database it protects. */
export const KEY_ENCRYPTION_SECRET_FILE = 'key-encryption-secret';

/**
 * Signing keys are encrypted at rest by default (issue 10): with the embedded PostgreSQL and no
 * KEY_ENCRYPTION_SECRET, one is generated into the data directory (mode 0600, readable by this user only) on the
 * first start and read on every later one. The configured value, when there is one, always wins.
 */
export function withEmbeddedKeyEncryptionSecret(config: AppConfig): AppConfig {
  if (config.authorizationServer.keyEncryptionSecret) return config;
  const path = join(config.dataDir, KEY_ENCRYPTION_SECRET_FILE);
  let secret: string;
  try {
    secret = readFileSync(path, 'utf8').trim();
    // Whoever can read this file can read the signing keys: keep it private even if someone loosened it.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    secret = randomBytes(32).toString('base64url');
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  }
  // A truncated file must not silently mean "no encryption": the keys it encrypted could not be read either.
  if (secret.length < 16) throw new ConfigError(`${path} holds no usable key encryption secret; restore it from a backup`);
  return Object.freeze({ ...config, authorizationServer: Object.freeze({ ...config.authorizationServer, keyEncryptionSecret: secret }) });
}
