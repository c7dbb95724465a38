import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/app';
import { ServerProcess } from '../helpers/server-process';

jest.setTimeout(90_000);

/** PIDs of postgres servers whose data directory is `dir`. */
function postgresServing(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes('postgres') && l.includes(`-D ${dir}`)).map((l) => l.trim().split(/\s+/)[0]);
}

describe('starting the server (src/main.ts)', () => {
  it('exits non-zero with one line naming a bad setting', async () => {
    const server = new ServerProcess({ ISSUER_URL: 'https://example.com/' });
    expect(await server.exited).toBe(1);
    expect(server.text).toBe('portcullis: invalid configuration: ISSUER_URL must be an absolute http(s) URL without a trailing slash, query or fragment\n');
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

    it('is ready within 30 s on a first run, and stops itself and PostgreSQL on SIGTERM', async () => {
      const port = await freePort();
      const server = new ServerProcess({ DATA_DIR: dataDir, PORT: String(port) });
      const ms = await server.waitUntilReady(`http://127.0.0.1:${port}/readyz`, 30_000);
      expect(ms).toBeLessThan(30_000);
      expect(existsSync(join(pgDir, 'PG_VERSION'))).toBe(true);
      expect(postgresServing(pgDir)).toHaveLength(1);

      server.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(postgresServing(pgDir)).toEqual([]);
    });

    it('keeps its data and is ready within 5 s on the next run; a second server on the same data is refused', async () => {
      const port = await freePort();
      const server = new ServerProcess({ DATA_DIR: dataDir, PORT: String(port) });
      const ms = await server.waitUntilReady(`http://127.0.0.1:${port}/readyz`, 5_000);
      expect(ms).toBeLessThan(5_000);
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
