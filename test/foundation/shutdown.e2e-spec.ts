import { Agent, request as httpRequest } from 'node:http';
import { TEST_ADMIN_PASSWORD, freePort } from '../helpers/app';
import { createTestDatabase } from '../helpers/database';
import { ServerProcess } from '../helpers/server-process';

jest.setTimeout(180_000);

/** A sign-in attempt: a bcrypt comparison on the server, so it is still running a while after it was sent. */
function failedSignIn(agent: Agent, port: number, form: { cookie: string; csrf: string }, username: string): Promise<{ status: number } | { error: string }> {
  const body = new URLSearchParams({ username, password: 'not-the-password', csrf_token: form.csrf, return_to: '/' }).toString();
  return new Promise((resolve) => {
    const req = httpRequest({
      host: '127.0.0.1', port, path: '/login', method: 'POST', timeout: 30_000, agent,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body), Cookie: form.cookie },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(body);
  });
}

/** One GET on a keep-alive agent: the status, and whether the server asked to close the connection. */
function get(agent: Agent, port: number, path: string): Promise<{ status: number; close: boolean } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, close: res.headers.connection === 'close' }));
    });
    req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}

/**
 * Issue 13 item 3, one instance's side of a rolling restart: on SIGTERM `/readyz` turns 503 first and stays so for
 * SHUTDOWN_DRAIN_DELAY while requests are still served (with `Connection: close`, so keep-alive clients move on);
 * then the listener closes, what is in flight finishes, and the process exits 0.
 */
describe('SIGTERM drains the instance before it stops', () => {
  it('turns /readyz to 503 at once, keeps serving through the drain delay, finishes what is in flight, exits 0', async () => {
    const port = await freePort();
    const server = new ServerProcess({
      DATABASE_URL: await createTestDatabase(),
      PORT: String(port),
      ISSUER_URL: `http://127.0.0.1:${port}`,
      BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
      SHUTDOWN_DRAIN_DELAY: '2s',
      SHUTDOWN_TIMEOUT: '20s',
    });
    await server.waitUntilReady(`http://127.0.0.1:${port}/readyz`, 120_000);
    const loginPage = await fetch(`http://127.0.0.1:${port}/login`);
    const form = {
      csrf: /name="csrf_token" value="([^"]+)"/.exec(await loginPage.text())![1],
      cookie: loginPage.headers.getSetCookie().map((c) => c.split(';')[0]).join('; '),
    };

    // A load balancer's view: keep-alive clients send while /readyz says 200, and stop once it says 503.
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const results: Array<{ status: number; close: boolean } | { error: string }> = [];
    let ready = true;
    const clients = Array.from({ length: 6 }, async () => {
      while (ready) results.push(await get(agent, port, '/.well-known/oauth-authorization-server'));
    });
    await new Promise((resolve) => setTimeout(resolve, 300));

    // A hundred connections opened before the signal, as a balancer holds them: the burst below goes over these,
    // so its requests reach the server whatever the machine's load (a connection still in the kernel's accept
    // queue when the listener closes is reset by the kernel, and no server can answer it).
    const burstAgent = new Agent({ keepAlive: true, maxSockets: 100 });
    await Promise.all(Array.from({ length: 100 }, () => get(burstAgent, port, '/healthz')));

    const signalled = Date.now();
    server.kill('SIGTERM');
    let readiness = await get(agent, port, '/readyz');
    while ('status' in readiness && readiness.status === 200 && Date.now() - signalled < 10_000) readiness = await get(agent, port, '/readyz');
    expect(readiness).toMatchObject({ status: 503 });
    // Still inside the drain delay: requests are served, each telling the client to close its connection.
    const duringDrain = await get(agent, port, '/.well-known/oauth-authorization-server');
    expect(duringDrain).toEqual({ status: 200, close: true });
    ready = false;
    await Promise.all(clients);
    // Inside the drain delay (the listener closes 2 s after the signal), a burst of slow requests — a bcrypt
    // comparison each, a second or more of work in all: some are still running when the listener closes, and every
    // one must get its answer (401, or 429 once the per-address limit is reached), not a reset connection.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, signalled + 1000 - Date.now())));
    const burst = await Promise.all(Array.from({ length: 100 }, (_, i) => failedSignIn(burstAgent, port, form, `nobody-${i}`)));
    expect(burst.filter((r) => !('status' in r) || (r.status !== 401 && r.status !== 429))).toEqual([]);

    expect(await server.exited).toBe(0);
    expect(results.length).toBeGreaterThan(0);
    expect(results.filter((r) => !('status' in r) || r.status !== 200)).toEqual([]);
    expect(server.text).toContain('SIGTERM received, shutting down');
    expect(server.text).not.toContain('were cut');
    agent.destroy();
    burstAgent.destroy();
  });
});
