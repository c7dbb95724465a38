import { execFile } from 'node:child_process';
import { join } from 'node:path';

/**
 * Runs one of the scripts beside this file in a plain Node process. They use real, independent OAuth client
 * libraries (oauth4webapi, openid-client), which are ES modules that jest's CommonJS runtime cannot load.
 * Each script prints one JSON document on stdout.
 */
export function runExternal<T>(script: string, args: string[], env: Record<string, string> = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(__dirname, script), ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${script} failed: ${error.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${script} printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}
