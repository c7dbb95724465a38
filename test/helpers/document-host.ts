import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, Server } from 'node:https';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/** What a route of the document host answers: a JSON body with headers, or a handler of its own. */
export type Route =
  | { readonly json: unknown; readonly status?: number; readonly headers?: Record<string, string> }
  | { readonly handle: (req: IncomingMessage, res: ServerResponse) => void };

/**
 * A real HTTPS server on loopback for client metadata documents, with a self-signed certificate valid for
 * `localhost`, 127.0.0.1 and the extra names given; its PEM is written to `caFile` for OAUTH2_CIMD_TRUSTED_CA_FILE.
 * Routes are set per path and count their requests, so a test can tell a fetch from a cached copy.
 */
export class DocumentHost {
  readonly hits = new Map<string, number>();
  private readonly routes = new Map<string, Route>();

  private constructor(private readonly server: Server, readonly caFile: string, readonly port: number) {}

  static async start(extraNames: string[] = []): Promise<DocumentHost> {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      notAfterDate: new Date(Date.now() + 7 * 86400_000),
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'subjectAltName', altNames: [{ type: 2 as const, value: 'localhost' }, ...extraNames.map((value) => ({ type: 2 as const, value })), { type: 7 as const, ip: '127.0.0.1' }] },
      ],
    });
    const caFile = join(mkdtempSync(join(tmpdir(), 'portcullis-cimd-')), 'ca.pem');
    writeFileSync(caFile, pems.cert);
    let host!: DocumentHost;
    const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => host.answer(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = new DocumentHost(server, caFile, (server.address() as AddressInfo).port);
    return host;
  }

  /** `https://<name>:<port><path>`. */
  url(path: string, name = 'localhost'): string {
    return `https://${name}:${this.port}${path}`;
  }

  set(path: string, route: Route): void {
    this.routes.set(path, route);
  }

  /** A client metadata document at `path` whose client_id is its own URL (under `name`), with `overrides`. */
  document(path: string, overrides: Record<string, unknown> = {}, options: { name?: string; headers?: Record<string, string> } = {}): string {
    const clientId = this.url(path, options.name);
    this.set(path, {
      json: { client_id: clientId, client_name: 'Agent Smith', redirect_uris: ['http://127.0.0.1:33418/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], ...overrides },
      headers: options.headers,
    });
    return clientId;
  }

  hitsOf(path: string): number {
    return this.hits.get(path) ?? 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    this.hits.set(path, this.hitsOf(path) + 1);
    const route = this.routes.get(path);
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    if ('handle' in route) {
      route.handle(req, res);
      return;
    }
    res.writeHead(route.status ?? 200, { 'content-type': 'application/json', ...route.headers }).end(JSON.stringify(route.json));
  }
}
