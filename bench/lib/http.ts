/** Small HTTP helpers for setting the servers up and pre-minting codes and tokens (never inside a timed window). */

export const FORM = 'application/x-www-form-urlencoded';

/** A cookie jar that ignores paths and expiry: enough for one browser session against one loopback server. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

export function basicAuth(clientId: string, secret: string): string {
  // RFC 6749 §2.3.1: each part form-url-encoded before the base64.
  const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

/** Fails with the status and body, so a broken set-up says what the server answered. */
export async function expectStatus(res: Response, statuses: number[], what: string): Promise<Response> {
  if (!statuses.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 500)}`);
  return res;
}

export async function postJson<T>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  await expectStatus(res, [200, 201], `POST ${url}`);
  return res.json() as Promise<T>;
}

export async function postForm<T>(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': FORM, ...headers }, body: new URLSearchParams(form) });
  await expectStatus(res, [200], `POST ${url}`);
  return res.json() as Promise<T>;
}

/** The `code` of an authorization response redirect, or undefined when the redirect carries none. */
export function codeOf(location: string | null | undefined): string | undefined {
  if (!location) return undefined;
  return new URL(location, 'http://relative.invalid').searchParams.get('code') ?? undefined;
}

/** Runs `task` `count` times with at most `concurrency` in flight; the results in no particular order. */
export async function inParallel<T>(count: number, concurrency: number, task: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      results.push(await task());
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}
