import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { Client } from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/app';
import { ServerProcess } from '../helpers/server-process';

jest.setTimeout(180_000);

/** PIDs of postgres servers whose data directory is `dir`. */
function postgresServing(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes('postgres') && l.includes(`-D ${dir}`)).map((l) => l.trim().split(/\s+/)[0]);
}

/** One query against the embedded cluster of a data directory while its server runs (port from postmaster.pid). */
async function embeddedQuery<T>(pgDir: string, text: string): Promise<T[]> {
  const port = readFileSync(join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[3].trim();
  const password = readFileSync(`${pgDir}.password`, 'utf8').trim();
  const client = new Client({ host: '127.0.0.1', port: Number(port), user: 'postgres', password, database: 'portcullis' });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('starting the server (src/main.ts)', () => {
  it('exits non-zero with one line naming a bad setting', async () => {
    const server = new ServerProcess({ ISSUER_URL: 'https://example.com/' });
    expect(await server.exited).toBe(1);
    expect(server.text).toBe('portcullis: invalid configuration: ISSUER_URL must be an absolute http(s) URL without a trailing slash, query or fragment\n');
  });

  it('requires KEY_ENCRYPTION_SECRET with an external database in production', async () => {
    const server = new ServerProcess({ NODE_ENV: 'production', ISSUER_URL: 'https://auth.example.com', DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db' });
    expect(await server.exited).toBe(1);
    expect(server.text.trim().split('\n')).toEqual([
      'portcullis: invalid configuration: KEY_ENCRYPTION_SECRET is required with an external database when NODE_ENV=production (it encrypts the signing keys at rest)',
    ]);
  });

  it('requires ISSUER_URL in production', async () => {
    const server = new ServerProcess({ NODE_ENV: 'production' });
    expect(await server.exited).toBe(1);
    expect(server.text.trim().split('\n')).toEqual([
      'portcullis: invalid configuration: ISSUER_URL is required when the authorization server is enabled and NODE_ENV=production',
    ]);
  });

  describe('with the embedded PostgreSQL and no other configuration', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-start-'));
    chmodSync(dataDir, 0o755);
    const pgDir = join(dataDir, 'postgres');

    it('becomes ready on a first run, and stops itself and PostgreSQL on SIGTERM', async () => {
      const port = await freePort();
      const server = new ServerProcess({ DATA_DIR: dataDir, PORT: String(port) });
      await server.waitUntilReady(`http://127.0.0.1:${port}/readyz`, 80_000);
      expect(existsSync(join(pgDir, 'PG_VERSION'))).toBe(true);
      expect(postgresServing(pgDir)).toHaveLength(1);

      server.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(postgresServing(pgDir)).toEqual([]);
    });

    it('encrypts the signing keys at rest with a secret it generated into the data directory, readable by this user only', async () => {
      const file = join(dataDir, 'key-encryption-secret');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8').trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const port = await freePort();
      const server = new ServerProcess({ DATA_DIR: dataDir, PORT: String(port) });
      await server.waitUntilReady(`http://127.0.0.1:${port}/readyz`, 60_000);
      const keys = await embeddedQuery<{ encrypted: boolean; private_key: string }>(pgDir, 'SELECT encrypted, private_key FROM signing_keys');
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        expect(key.encrypted).toBe(true);
        expect(key.private_key).toMatch(/^v1:/);
        expect(key.private_key).not.toContain('PRIVATE KEY');
      }
      // Tokens signed with the decrypted key verify against the published JWKS: the key is usable, not just stored.
      const jwks = (await (await fetch(`http://127.0.0.1:${port}/oauth2/jwks`)).json()) as { keys: unknown[] };
      expect(jwks.keys).toHaveLength(1);
      server.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    });

    // Speed is measured in bench/, never here: a loaded machine may take its time (a generous limit only).
    it('keeps its data on the next run; a second server on the same data is refused', async () => {
      const port = await freePort();
      const server = new ServerProcess({ DATA_DIR: dataDir, PORT: String(port) });
      await server.waitUntilReady(`http://127.0.0.1:${port}/readyz`, 60_000);
      expect(server.text).not.toContain('initdb');

      const second = new ServerProcess({ DATA_DIR: dataDir, PORT: String(await freePort()) });
      expect(await second.exited).toBe(1);
      expect(second.text).toMatch(new RegExp(`^portcullis: the data directory ${pgDir} is already in use by a running PostgreSQL \\(pid \\d+\\)`));
      expect(second.text.trim().split('\n')).toHaveLength(1);

      server.kill('SIGINT');
      expect(await server.exited).toBe(0);
      expect(postgresServing(pgDir)).toEqual([]);
    });
  });
});
