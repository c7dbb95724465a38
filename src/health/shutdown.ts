import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';

/**
 * A rolling restart, from this instance's side (SIGTERM): first `/readyz` answers 503 and every response says
 * `Connection: close`, for SHUTDOWN_DRAIN_DELAY, so the load balancer stops sending here while requests still
 * succeed; then the listener closes, idle keep-alive connections are closed, and the requests in flight finish
 * (for at most SHUTDOWN_TIMEOUT) before the application and its pool stop.
 */
@Injectable()
export class Shutdown {
  private stopping = false;

  get draining(): boolean {
    return this.stopping;
  }

  /** Express middleware, first of all: while draining, every response ends its keep-alive connection. */
  readonly track = (_req: Request, res: Response, next: NextFunction): void => {
    if (this.stopping) res.setHeader('Connection', 'close');
    next();
  };

  /**
   * Drains: readiness down at once; after `drainDelayMs` the listener closes. Connections already accepted are
   * left alone for a moment (a request may have arrived but not been read yet: closing "idle" connections at once,
   * as http.Server#close does, would reset it), then idle ones are closed as they appear — every response since
   * the drain began said `Connection: close` — until every connection has ended, or `timeoutMs` passed and
   * whatever is still open is cut. Answers how many connections were cut.
   */
  async drain(server: Server, drainDelayMs: number, timeoutMs: number): Promise<number> {
    this.stopping = true;
    await sleep(drainDelayMs);
    const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
    const deadline = Date.now() + timeoutMs;
    let ended = false;
    void closed.then(() => (ended = true));
    await sleep(Math.min(READ_GRACE_MS, timeoutMs));
    while (!ended && Date.now() < deadline) {
      server.closeIdleConnections();
      await Promise.race([closed, sleep(IDLE_SWEEP_MS)]);
    }
    if (ended) return 0;
    const cut = await new Promise<number>((resolve) => server.getConnections((_err, count) => resolve(count ?? 0)));
    server.closeAllConnections();
    await closed;
    return cut;
  }
}

/** How long accepted connections get to send their request before idle ones are closed. */
const READ_GRACE_MS = 1000;
const IDLE_SWEEP_MS = 200;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
