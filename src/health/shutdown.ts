import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { Server } from 'node:http';

/**
 * A rolling restart, from this instance's side (SIGTERM): first `/readyz` answers 503 and every response says
 * `Connection: close`, for SHUTDOWN_DRAIN_DELAY, so the load balancer stops sending here while requests still
 * succeed; then the listener closes, idle keep-alive connections are closed, and the requests in flight finish
 * (for at most SHUTDOWN_TIMEOUT) before the application and its pool stop.
 */
@Injectable()
export class Shutdown {
  private inFlight = 0;
  private stopping = false;

  get draining(): boolean {
    return this.stopping;
  }

  /** Express middleware, first of all: counts the requests in flight and, while draining, ends keep-alive. */
  readonly track = (req: Request, res: Response, next: NextFunction): void => {
    this.inFlight++;
    if (this.stopping) res.setHeader('Connection', 'close');
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.inFlight--;
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };

  /**
   * Drains: readiness down at once; after `drainDelayMs` the listener closes (Node also closes the idle keep-alive
   * connections then, and every response since the drain began said `Connection: close`), and this waits until
   * every connection has ended — or `timeoutMs` passed, when whatever is still open is cut. Answers how many
   * requests were cut.
   */
  async drain(server: Server, drainDelayMs: number, timeoutMs: number): Promise<number> {
    this.stopping = true;
    await sleep(drainDelayMs);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const finished = await Promise.race([closed.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (finished) return 0;
    const cut = this.inFlight;
    server.closeAllConnections();
    await closed;
    return cut;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
