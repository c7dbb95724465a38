import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';

/** A local HTTP server standing in for a client's redirect endpoint; it records what arrives. */
export class RedirectListener {
  readonly received: URL[] = [];
  private server!: Server;
  private waiters: ((url: URL) => void)[] = [];

  async start(): Promise<string> {
    this.server = createServer((req: IncomingMessage, res) => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
      this.received.push(url);
      this.waiters.splice(0).forEach((w) => w(url));
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>Client</title><h1>Back at the client</h1>');
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/callback`;
  }

  next(): Promise<URL> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
