import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import request from 'supertest';
import { freePort, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { createApp, RegisteredApp } from '../helpers/clients';
import { createTestDatabase } from '../helpers/database';
import { signIn } from '../helpers/identity';
import { authorizeAndConsent } from '../helpers/oauth';
import { exchange } from '../helpers/protocol';
import { ServerProcess } from '../helpers/server-process';

jest.setTimeout(240_000);

/** A span as OTLP/HTTP JSON carries it, attributes flattened. */
interface Span {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, unknown>;
  readonly service: unknown;
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

/** An OTLP/HTTP receiver in this process: collects what is POSTed to /v1/traces (JSON, gzipped or not). */
class OtlpReceiver {
  readonly spans: Span[] = [];
  /** Every request received, on any path. */
  requests = 0;
  private server?: Server;

  async listen(port = 0): Promise<number> {
    this.server = createServer((req, res) => void this.receive(req).then(() => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}')));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    return (this.server!.address() as { port: number }).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async receive(req: IncomingMessage): Promise<void> {
    this.requests++;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    if (req.url !== '/v1/traces') return;
    const body = JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')) as OtlpBody;
    for (const resourceSpans of body.resourceSpans ?? []) {
      const service = flatten(resourceSpans.resource?.attributes)['service.name'];
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({ traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId || undefined, name: span.name, kind: span.kind, attributes: flatten(span.attributes), service });
        }
      }
    }
  }
}

interface OtlpBody {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: Array<{ spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: OtlpAttribute[] }> }>;
  }>;
}
interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}

function flatten(attributes: OtlpAttribute[] = []): Record<string, unknown> {
  return Object.fromEntries(attributes.map((a) => [a.key, Object.values(a.value)[0]]));
}

/** The JSON log lines the server wrote. */
function logLines(server: ServerProcess): Record<string, unknown>[] {
  return server.text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function startServer(env: Record<string, string>): Promise<{ server: ServerProcess; t: TestApp }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = new ServerProcess({
    DATABASE_URL: await createTestDatabase(),
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER_URL: url,
    BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    LOG_LEVEL: 'info',
    SHUTDOWN_DRAIN_DELAY: '0',
    ...env,
  });
  await server.waitUntilReady(`${url}/readyz`, 180_000);
  // The helpers only need the URL.
  return { server, t: { url } as TestApp };
}

/** A code exchange at the token endpoint; answers its X-Request-Id and what must appear in no span. */
async function codeExchange(t: TestApp, client: RegisteredApp, cookie: string, traceparent?: string): Promise<{ requestId: string; secrets: string[] }> {
  const { code, verifier } = await authorizeAndConsent(t, client, cookie);
  const req = exchange(t, client, code, verifier);
  const res = await (traceparent ? req.set('traceparent', traceparent) : req);
  expect(res.status).toBe(200);
  return { requestId: res.headers['x-request-id'] as string, secrets: [code, verifier, client.clientSecret!, res.body.access_token, res.body.refresh_token].filter(Boolean) };
}

/**
 * Issue 15 item 2: with OTEL_EXPORTER_OTLP_ENDPOINT set, the real server (src/main.ts in its own process) exports a
 * trace per request over OTLP/HTTP, whose spans cover the token endpoint and its SQL, and the request id is in the
 * response, the span and the log line alike; without it, nothing is sent.
 */
describe('traces over OTLP', () => {
  const receiver = new OtlpReceiver();
  let server: ServerProcess;
  let t: TestApp;
  let client: RegisteredApp;
  let cookie: string;

  beforeAll(async () => {
    const receiverPort = await receiver.listen();
    ({ server, t } = await startServer({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    }));
    cookie = await signIn(t);
    client = await createApp(t, cookie, { name: 'traced-app', grant_types: ['authorization_code', 'refresh_token'] });
  });
  afterAll(async () => {
    server?.kill('SIGTERM');
    await server?.exited;
    await receiver.close();
  });

  it('says where it sends traces, without any credential in the endpoint', () => {
    expect(server.text).toContain(`portcullis: sending traces to http://127.0.0.1:`);
  });

  it('exports the token endpoint as a server span carrying the request id, with its SQL statements inside it', async () => {
    const { requestId, secrets } = await codeExchange(t, client, cookie);
    const serverSpan = await waitFor(() => receiver.spans.find((s) => s.attributes['portcullis.request_id'] === requestId), 'the server span');
    expect(serverSpan).toMatchObject({
      kind: SPAN_KIND_SERVER,
      service: 'portcullis',
      attributes: expect.objectContaining({ 'http.request.method': 'POST', 'url.path': '/oauth2/token', 'http.route': '/oauth2/token', 'http.response.status_code': 200 }),
    });

    // The statements arrive in the same batch or the next: wait until the trace holds the two of a code exchange.
    const inTrace = () => receiver.spans.filter((s) => s.traceId === serverSpan.traceId);
    const underServerSpan = (span: Span): boolean => {
      for (let parent = span.parentSpanId; parent; parent = inTrace().find((s) => s.spanId === parent)?.parentSpanId) {
        if (parent === serverSpan.spanId) return true;
      }
      return false;
    };
    const sql = await waitFor(() => {
      const statements = inTrace().filter((s) => s.kind === SPAN_KIND_CLIENT && (s.attributes['db.system.name'] === 'postgresql' || s.attributes['db.system'] === 'postgresql'));
      return statements.length >= 2 ? statements : undefined;
    }, 'the SQL spans');
    expect(sql.every(underServerSpan)).toBe(true);
    expect(sql.map((s) => String(s.attributes['db.query.text'] ?? s.attributes['db.statement'])).join('\n')).toMatch(/authorization_codes/);
    // Nothing the exchange carried — the code, the verifier, the secret, the tokens — is in any span of its trace.
    const exported = JSON.stringify(inTrace());
    expect(secrets.filter((secret) => exported.includes(secret))).toEqual([]);
  });

  it('puts the trace and span ids on the log lines of the request', async () => {
    const { requestId } = await codeExchange(t, client, cookie);
    const serverSpan = await waitFor(() => receiver.spans.find((s) => s.attributes['portcullis.request_id'] === requestId), 'the server span');
    const line = await waitFor(() => logLines(server).find((l) => (l.req as { id?: string } | undefined)?.id === requestId), 'the request log line');
    expect(line).toMatchObject({ trace_id: serverSpan.traceId, span_id: expect.stringMatching(/^[0-9a-f]{16}$/) });
  });

  it('continues a trace the caller started (W3C traceparent)', async () => {
    const traceId = randomBytes(16).toString('hex');
    const parentId = randomBytes(8).toString('hex');
    const { requestId } = await codeExchange(t, client, cookie, `00-${traceId}-${parentId}-01`);
    const serverSpan = await waitFor(() => receiver.spans.find((s) => s.attributes['portcullis.request_id'] === requestId), 'the server span');
    expect(serverSpan).toMatchObject({ traceId, parentSpanId: parentId });
  });

  it('keeps codes and tokens out of the recorded query string, also inside a nested URL', async () => {
    const res = await request(t.url).get('/login').query({ return_to: '/oauth2/authorize?client_id=x&code=secret-code-value', code: 'another-secret-code' });
    const requestId = res.headers['x-request-id'] as string;
    const span = await waitFor(() => receiver.spans.find((s) => s.attributes['portcullis.request_id'] === requestId), 'the login span');
    expect(JSON.stringify(span)).not.toMatch(/secret-code-value|another-secret-code/);
    expect(span.attributes['url.query']).toContain('code=[REDACTED]');
  });

  it('traces neither the probes nor the scrapes', async () => {
    await request(t.url).get('/healthz').expect(200);
    await request(t.url).get('/metrics').expect(200);
    const { requestId } = await codeExchange(t, client, cookie);
    await waitFor(() => receiver.spans.find((s) => s.attributes['portcullis.request_id'] === requestId), 'a later span');
    expect(receiver.spans.filter((s) => ['/healthz', '/readyz', '/metrics'].includes(String(s.attributes['url.path'])))).toEqual([]);
  });
});

describe('without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  /** Where an OTLP exporter sends by default: were the SDK started anyway, this is what would hear from it. */
  const defaultReceiver = new OtlpReceiver();
  let listening = false;
  let server: ServerProcess;
  let t: TestApp;

  beforeAll(async () => {
    listening = await defaultReceiver.listen(4318).then(() => true, () => false);
    ({ server, t } = await startServer({ OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'portcullis-untraced' }));
  });
  afterAll(async () => {
    server?.kill('SIGTERM');
    await server?.exited;
    await defaultReceiver.close();
  });

  it('sends nothing and writes no trace ids, even for a request that carries a traceparent', async () => {
    const cookie = await signIn(t);
    const client = await createApp(t, cookie, { name: 'untraced-app' });
    const { requestId } = await codeExchange(t, client, cookie, `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`);
    const line = await waitFor(() => logLines(server).find((l) => (l.req as { id?: string } | undefined)?.id === requestId), 'the request log line');
    expect(line).not.toHaveProperty('trace_id');
    expect(server.text).not.toContain('sending traces');
    // Twice the export delay and more: a started SDK would have sent by now.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // 4318 may be taken on this machine; then the log lines above are the evidence.
    if (listening) expect(defaultReceiver.requests).toBe(0);
  });
});
