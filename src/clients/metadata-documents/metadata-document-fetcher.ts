import { LookupAddress, promises as dns } from 'node:dns';
import { request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { isIP, LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import { AddressPolicy } from './address-policy';

/** draft-ietf-oauth-client-id-metadata-document §4: documents are small; 5 KiB is what it suggests as a limit. */
export const MAX_DOCUMENT_BYTES = 5 * 1024;

/**
 * Why a document could not be used. `transient`: the host could not be reached or failed (a cached copy may stand
 * in); otherwise the host answered, and what it answered is not a usable document.
 */
export class MetadataDocumentProblem extends Error {
  constructor(message: string, readonly transient = false) {
    super(message);
    this.name = 'MetadataDocumentProblem';
  }
}

export interface FetchedDocument {
  readonly body: unknown;
  /** Seconds the host says the document may be cached (Cache-Control max-age, or Expires); 0 for no-store. */
  readonly maxAgeSeconds?: number;
}

export interface FetcherOptions {
  readonly allowedAddresses: readonly string[];
  readonly timeoutMs: number;
  readonly trustedCa?: string;
  readonly dnsServers: readonly string[];
}

/**
 * GETs a client metadata document with the protections a server-side fetch of a URL chosen by anyone needs
 * (RFC 9700 §4.11 on SSRF; the CIMD draft §6): https only; every address the name resolves to must be allowed
 * (AddressPolicy), and the socket's actual peer is checked again on connect, so neither DNS rebinding nor an IP
 * literal reaches an internal host; no redirects; one overall time limit; at most MAX_DOCUMENT_BYTES, uncompressed,
 * of JSON.
 */
export class MetadataDocumentFetcher {
  private readonly policy: AddressPolicy;
  private readonly ca?: string[];
  private readonly resolver?: dns.Resolver;

  constructor(private readonly options: FetcherOptions) {
    this.policy = new AddressPolicy(options.allowedAddresses);
    this.ca = options.trustedCa ? [...rootCertificates, options.trustedCa] : undefined;
    if (options.dnsServers.length) {
      this.resolver = new dns.Resolver({ timeout: Math.min(options.timeoutMs, 2000), tries: 1 });
      this.resolver.setServers([...options.dnsServers]);
    }
  }

  fetch(url: URL): Promise<FetchedDocument> {
    if (url.protocol !== 'https:') return Promise.reject(new MetadataDocumentProblem('the document must be served over https'));
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (isIP(host)) {
      const problem = this.policy.problem(host);
      if (problem) return Promise.reject(new MetadataDocumentProblem(`its address is not allowed: ${problem}`));
    }
    return new Promise<FetchedDocument>((resolve, reject) => {
      let settled = false;
      const fail = (problem: MetadataDocumentProblem) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(problem);
      };
      const req = request({
        host,
        port: url.port || 443,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { accept: 'application/json', 'accept-encoding': 'identity', 'user-agent': 'Portcullis client metadata fetcher' },
        servername: isIP(host) ? undefined : host,
        lookup: this.lookup,
        ca: this.ca,
        agent: false,
      });
      const timer = setTimeout(() => fail(new MetadataDocumentProblem(`the host did not answer within ${this.options.timeoutMs} ms`, true)), this.options.timeoutMs);
      req.on('socket', (socket) => {
        socket.once('connect', () => {
          // What the socket really reached, whatever the name said.
          const problem = socket.remoteAddress === undefined ? 'no peer address' : this.policy.problem(socket.remoteAddress);
          if (problem) fail(new MetadataDocumentProblem(`its address is not allowed: ${problem}`));
        });
      });
      req.on('error', (e: Error) => fail(e instanceof MetadataDocumentProblem ? e : new MetadataDocumentProblem(`the host cannot be reached (${describe(e)})`, true)));
      req.on('response', (res) => {
        const problem = responseProblem(res);
        if (problem) return fail(problem);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_DOCUMENT_BYTES) return fail(new MetadataDocumentProblem(`the document is larger than ${MAX_DOCUMENT_BYTES} bytes`));
          chunks.push(chunk);
        });
        res.on('error', (e) => fail(new MetadataDocumentProblem(`the answer broke off (${describe(e)})`, true)));
        res.on('end', () => {
          if (settled) return;
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            return fail(new MetadataDocumentProblem('the document is not JSON'));
          }
          settled = true;
          clearTimeout(timer);
          resolve({ body, maxAgeSeconds: maxAge(res) });
        });
      });
      req.end();
    });
  }

  /** Resolves the name and refuses it when any of its addresses is not allowed. */
  private readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname).then((addresses) => {
      const problem = addresses.map((a) => this.policy.problem(a.address)).find((p) => p !== undefined);
      if (problem) throw new MetadataDocumentProblem(`its address is not allowed: ${hostname} resolves to ${problem}`);
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    }).catch((e: NodeJS.ErrnoException) => callback(e, '', 4));
  };

  private async resolve(hostname: string): Promise<LookupAddress[]> {
    let addresses: LookupAddress[];
    try {
      if (this.resolver) {
        const resolver = this.resolver;
        const [v4, v6] = await Promise.all([resolver.resolve4(hostname).catch(() => []), resolver.resolve6(hostname).catch(() => [])]);
        addresses = [...v4.map((address) => ({ address, family: 4 })), ...v6.map((address) => ({ address, family: 6 }))];
      } else {
        addresses = await dns.lookup(hostname, { all: true, verbatim: true });
      }
    } catch (e) {
      throw new MetadataDocumentProblem(`its host name does not resolve (${describe(e)})`, true);
    }
    if (addresses.length === 0) throw new MetadataDocumentProblem('its host name does not resolve', true);
    return addresses;
  }
}

function responseProblem(res: IncomingMessage): MetadataDocumentProblem | undefined {
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400) return new MetadataDocumentProblem(`the host answered a redirect (${status}), which is not followed`);
  if (status >= 500) return new MetadataDocumentProblem(`the host answered ${status}`, true);
  if (status !== 200) return new MetadataDocumentProblem(`the host answered ${status}`);
  const type = res.headers['content-type'] ?? '';
  if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type)) return new MetadataDocumentProblem('the document is not served as application/json');
  const encoding = res.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return new MetadataDocumentProblem('the document is compressed, which is not accepted');
  const length = Number(res.headers['content-length']);
  if (length > MAX_DOCUMENT_BYTES) return new MetadataDocumentProblem(`the document is larger than ${MAX_DOCUMENT_BYTES} bytes`);
  return undefined;
}

/** RFC 9111 §5.2.2 / §5.3: max-age (no-store and no-cache mean none), else Expires against Date. */
function maxAge(res: IncomingMessage): number | undefined {
  const directives = (res.headers['cache-control'] ?? '').toLowerCase().split(',').map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
  const age = directives.map((d) => /^max-age=(\d{1,10})$/.exec(d)?.[1]).find((v) => v !== undefined);
  if (age !== undefined) return Number(age);
  const expires = Date.parse(String(res.headers.expires ?? ''));
  if (Number.isNaN(expires)) return undefined;
  const date = Date.parse(String(res.headers.date ?? ''));
  return Math.max(0, Math.floor((expires - (Number.isNaN(date) ? Date.now() : date)) / 1000));
}

function describe(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message ?? String(e);
}
