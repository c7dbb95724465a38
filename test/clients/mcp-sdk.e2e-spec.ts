import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { createRemoteJWKSet, JWTPayload, jwtVerify } from 'jose';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import request from 'supertest';
import { bootApp, TestApp } from '../helpers/app';
import { DocumentHost } from '../helpers/document-host';
import { signIn } from '../helpers/identity';
import { consentForm, locationParams, postDecision } from '../helpers/oauth';

/**
 * Issue 14, done when: the MCP TypeScript SDK's client (`auth()` through its StreamableHTTP transport and an
 * OAuthClientProvider) against Portcullis by both registration paths — a Client ID Metadata Document served by a
 * local HTTPS host, and dynamic registration — up to a small MCP server (the SDK's own) that accepts a token only
 * when Portcullis signed it for that server's URL (`aud`, RFC 8707 / RFC 9728).
 */

const CALLBACK = 'http://127.0.0.1:33419/callback';

/** A resource server as an MCP server author writes one: RFC 9728 metadata, JWKS verification, `aud` = its own URL. */
class ProtectedMcpServer {
  readonly verified: JWTPayload[] = [];
  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(issuer: string): Promise<ProtectedMcpServer> {
    const jwks = createRemoteJWKSet(new URL(`${issuer}/oauth2/jwks`));
    let self!: ProtectedMcpServer;
    const server = createServer((req, res) => void self.answer(req, res, issuer, jwks).catch((e: Error) => res.writeHead(500).end(e.message)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new ProtectedMcpServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
    return self;
  }

  get metadataUrl(): string {
    return `${new URL(this.url).origin}/.well-known/oauth-protected-resource/mcp`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async answer(req: IncomingMessage, res: ServerResponse, issuer: string, jwks: ReturnType<typeof createRemoteJWKSet>): Promise<void> {
    const path = new URL(req.url ?? '/', this.url).pathname;
    if (path === '/.well-known/oauth-protected-resource/mcp') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ resource: this.url, authorization_servers: [issuer], bearer_methods_supported: ['header'] }));
      return;
    }
    if (path !== '/mcp') return void res.writeHead(404).end();
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    let claims: JWTPayload;
    try {
      if (!token) throw new Error('no token');
      claims = (await jwtVerify(token, jwks, { issuer, audience: this.url, typ: 'at+jwt' })).payload;
    } catch {
      res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${this.metadataUrl}"` }).end();
      return;
    }
    this.verified.push(claims);
    const body = req.method === 'POST' ? JSON.parse(await readBody(req)) : undefined;
    const mcp = new McpServer({ name: 'portcullis-test-mcp', version: '1.0.0' });
    mcp.registerTool('whoami', { description: 'The verified token claims' }, async () => ({ content: [{ type: 'text', text: JSON.stringify(claims) }] }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks).toString('utf8'))).on('error', reject);
  });
}

/** An agent's OAuthClientProvider that keeps everything in memory; `metadataUrl` makes it use a metadata document. */
class AgentProvider implements OAuthClientProvider {
  information?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  authorizationUrl?: URL;
  private verifier = '';

  constructor(readonly clientMetadataUrl?: string) {}

  get redirectUrl(): string {
    return CALLBACK;
  }

  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'Test MCP agent', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }

  clientInformation() { return this.information; }
  saveClientInformation(information: OAuthClientInformationMixed) { this.information = information; }
  tokens() { return this.saved; }
  saveTokens(tokens: OAuthTokens) { this.saved = tokens; }
  redirectToAuthorization(url: URL) { this.authorizationUrl = url; }
  saveCodeVerifier(verifier: string) { this.verifier = verifier; }
  codeVerifier() { return this.verifier; }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier') {
    if (scope === 'all' || scope === 'client') this.information = undefined;
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
  }
}

let host: DocumentHost;
let portcullis: TestApp;
let mcp: ProtectedMcpServer;
let cookie: string;

beforeAll(async () => {
  host = await DocumentHost.start();
  portcullis = await bootApp({
    env: {
      OAUTH2_CIMD_ENABLED: 'true',
      OAUTH2_CIMD_ALLOWED_ADDRESSES: '127.0.0.1/32',
      OAUTH2_CIMD_TRUSTED_CA_FILE: host.caFile,
      OAUTH2_DCR_ENABLED: 'true',
      OAUTH2_DCR_RATE_LIMIT: '0',
    },
  });
  mcp = await ProtectedMcpServer.start(portcullis.config.authorizationServer.issuerUrl);
  cookie = await signIn(portcullis);
});
afterAll(async () => {
  await mcp.close();
  await portcullis.close();
  await host.close();
});

/** The user's part, in place of a browser: the consent page (when it is shown), Allow, and the code from the redirect. */
async function approve(provider: AgentProvider): Promise<string> {
  const url = provider.authorizationUrl!;
  const page = await request(portcullis.url).get(`${url.pathname}${url.search}`).set('Cookie', cookie).redirects(0);
  const answer = page.status === 200 ? await postDecision(portcullis, cookie, consentForm(page.text), { decision: 'allow' }) : page;
  expect(answer.status).toBe(303);
  const { base, params } = locationParams(answer);
  expect(base).toBe(CALLBACK);
  return params.code;
}

/** What an agent does: connect, be sent to authorize, come back with the code, connect again and call a tool. */
async function connectAndCall(provider: AgentProvider): Promise<{ claims: JWTPayload; consentPage: string }> {
  const first = new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider });
  await expect(new Client({ name: 'agent', version: '1.0.0' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
  const url = provider.authorizationUrl!;
  const consentPage = (await request(portcullis.url).get(`${url.pathname}${url.search}`).set('Cookie', cookie).redirects(0)).text;
  await first.finishAuth(await approve(provider));
  const client = new Client({ name: 'agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider }));
  try {
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    return { claims: JSON.parse((result.content as { text: string }[])[0].text) as JWTPayload, consentPage };
  } finally {
    await client.close();
  }
}

describe('the MCP TypeScript SDK client against Portcullis', () => {
  it('identifies itself by a metadata document and reaches the MCP server with a token for it', async () => {
    const documentUrl = host.document('/agent/client.json', {
      client_name: 'Test MCP agent', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
    });
    const provider = new AgentProvider(documentUrl);
    const { claims, consentPage } = await connectAndCall(provider);
    expect(provider.information?.client_id).toBe(documentUrl);
    expect(claims).toMatchObject({ aud: mcp.url, client_id: documentUrl, iss: portcullis.config.authorizationServer.issuerUrl });
    expect(consentPage).toContain('Identifies itself with a document at');
    expect(host.hitsOf('/agent/client.json')).toBe(1);
  });

  it('registers itself dynamically when it has no metadata document, and reaches the MCP server', async () => {
    const provider = new AgentProvider();
    const { claims, consentPage } = await connectAndCall(provider);
    const clientId = provider.information?.client_id;
    expect(clientId).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(claims).toMatchObject({ aud: mcp.url, client_id: clientId });
    expect(consentPage).toContain('Registered itself on');
  });

  it('refreshes through the SDK when its access token is gone, keeping its client', async () => {
    const provider = new AgentProvider();
    await connectAndCall(provider);
    const clientId = provider.information?.client_id;
    const refreshToken = provider.saved?.refresh_token;
    expect(refreshToken).toEqual(expect.any(String));
    provider.saved = { ...provider.saved!, access_token: 'expired' };
    const client = new Client({ name: 'agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider }));
    await client.close();
    expect(provider.information?.client_id).toBe(clientId);
    expect(provider.saved?.refresh_token).not.toBe(refreshToken);
  });

  it('registers again when its self-registered client was removed (401 invalid_client), and carries on', async () => {
    const provider = new AgentProvider();
    await connectAndCall(provider);
    const oldClientId = provider.information!.client_id;
    const apps = await request(portcullis.url).get('/api/v1/oauth2/apps?per_page=100').set('Cookie', cookie);
    const app = (apps.body.items as { id: string; client_id: string }[]).find((a) => a.client_id === oldClientId)!;
    expect((await request(portcullis.url).delete(`/api/v1/oauth2/apps/${app.id}`).set('Cookie', cookie).set('Origin', portcullis.url)).status).toBe(204);

    provider.saved = { ...provider.saved!, access_token: 'expired' };
    const first = new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider });
    await expect(new Client({ name: 'agent', version: '1.0.0' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.information?.client_id).toEqual(expect.any(String));
    expect(provider.information?.client_id).not.toBe(oldClientId);
    await first.finishAuth(await approve(provider));
    const client = new Client({ name: 'agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider }));
    await client.close();
    expect(mcp.verified.at(-1)).toMatchObject({ client_id: provider.information?.client_id, aud: mcp.url });
  });
});
