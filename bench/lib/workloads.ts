/**
 * The workloads, each defined once for both authorization servers (their endpoints come from discovery). A
 * workload that consumes codes or tokens mints them through the server's real endpoints before its window.
 */
import { header, Headers, Load } from './load';
import { AuthServer, codeExchangeBody, mintCodes, mintRefreshTokens, TokenResponse } from './oauth';
import { FORM, codeOf } from './http';

export const WORKLOAD_NAMES = [
  'discovery', 'jwks', 'code-minting', 'code-exchange', 'refresh', 'userinfo', 'introspection', 'revocation',
  'client-credentials', 'registration',
] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

/** What a consuming workload needs to know to mint enough, and not much more, for its window. */
export interface Budget {
  readonly seconds: number;
  readonly connections: number;
  /** Requests per second this server is expected to reach here (from an earlier sample, or an estimate). */
  readonly expectedRate: number;
  /** Upper bound on codes or tokens minted for one window (minting takes time too). */
  readonly maxMint: number;
}

export interface Workload {
  readonly name: WorkloadName;
  readonly description: string;
  /** Discovery and JWKS are also measured on the bare NestJS ping. */
  readonly withPing: boolean;
  prepare(server: AuthServer, budget: Budget): Promise<Load>;
}

const ok = (status: number) => status === 200;

function target(url: string): { origin: string; path: string } {
  const u = new URL(url);
  return { origin: u.origin, path: `${u.pathname}${u.search}` };
}

/** How many codes or tokens to mint: the expected rate over the window with a margin, within bounds. */
function mintCount(budget: Budget): number {
  return Math.max(budget.connections * 2, Math.min(budget.maxMint, Math.ceil(budget.expectedRate * budget.seconds * 1.25)));
}

/** A queue consumed by setupRequest: each item goes out in exactly one request. */
function consume(items: string[], build: (item: string) => string): NonNullable<Load['request']['setupRequest']> {
  return (req) => {
    // `amount` equals the queue's length, so it never runs dry; were it to, the request fails visibly.
    req.body = build(items.pop() ?? 'exhausted');
    return req;
  };
}

const getPage = (url: (s: AuthServer) => string, name: WorkloadName, description: string): Workload => ({
  name, description, withPing: true,
  async prepare(server) {
    const { origin, path } = target(url(server));
    return { origin, request: { method: 'GET', path }, isSuccess: ok };
  },
});

export const WORKLOADS: readonly Workload[] = [
  getPage((s) => s.endpoints.discovery, 'discovery', 'GET /.well-known/openid-configuration'),
  getPage((s) => s.endpoints.jwks, 'jwks', 'GET the JWKS'),
  {
    name: 'code-minting', description: 'GET authorize with a session and remembered consent: a redirect with a code', withPing: false,
    async prepare(server) {
      const { origin, path } = target(server.authorizeUrl);
      return {
        origin,
        request: { method: 'GET', path, headers: { cookie: server.cookie } },
        // Portcullis answers 303 and oidc-provider 302 (or 303): either, when it carries a code.
        isSuccess: (status, _body, headers: Headers) => (status === 302 || status === 303) && codeOf(header(headers, 'location')) !== undefined,
      };
    },
  },
  {
    name: 'code-exchange', description: 'POST token authorization_code (PKCE, Basic), each pre-minted code once', withPing: false,
    async prepare(server, budget) {
      const codes = await mintCodes(server, mintCount(budget));
      const { origin, path } = target(server.endpoints.token);
      return {
        origin,
        amount: codes.length,
        request: {
          method: 'POST', path, headers: { 'content-type': FORM, authorization: server.basic },
          setupRequest: consume(codes, (code) => codeExchangeBody(server, code)),
        },
        isSuccess: ok,
      };
    },
  },
  {
    name: 'refresh', description: 'POST token refresh_token over independent chains, each rotated in turn', withPing: false,
    async prepare(server, budget) {
      return refreshChains(server, await mintRefreshTokens(server, Math.max(8, budget.connections * 2)));
    },
  },
  {
    name: 'userinfo', description: 'GET userinfo with a bearer access token', withPing: false,
    async prepare(server) {
      const { origin, path } = target(server.endpoints.userinfo);
      return { origin, request: { method: 'GET', path, headers: { authorization: `Bearer ${server.userinfoToken}` } }, isSuccess: ok };
    },
  },
  {
    name: 'introspection', description: 'POST introspect an active access token (Basic)', withPing: false,
    async prepare(server) {
      const { origin, path } = target(server.endpoints.introspect);
      return {
        origin,
        request: {
          method: 'POST', path, headers: { 'content-type': FORM, authorization: server.introspectBasic },
          body: new URLSearchParams({ token: server.userinfoToken }).toString(),
        },
        isSuccess: (status, body) => status === 200 && /"active"\s*:\s*true/.test(body),
      };
    },
  },
  {
    name: 'revocation', description: 'POST revoke a refresh token (Basic), each pre-minted token once', withPing: false,
    async prepare(server, budget) {
      const tokens = await mintRefreshTokens(server, mintCount(budget));
      const { origin, path } = target(server.endpoints.revoke);
      return {
        origin,
        amount: tokens.length,
        request: {
          method: 'POST', path, headers: { 'content-type': FORM, authorization: server.basic },
          setupRequest: consume(tokens, (token) => new URLSearchParams({ token, token_type_hint: 'refresh_token' }).toString()),
        },
        isSuccess: ok,
      };
    },
  },
  {
    name: 'client-credentials', description: 'POST token client_credentials (Basic)', withPing: false,
    async prepare(server) {
      const { origin, path } = target(server.endpoints.token);
      return {
        origin,
        request: { method: 'POST', path, headers: { 'content-type': FORM, authorization: server.basic }, body: 'grant_type=client_credentials' },
        isSuccess: ok,
      };
    },
  },
  {
    name: 'registration', description: 'POST register a public client (RFC 7591, minimal metadata)', withPing: false,
    async prepare(server) {
      const { origin, path } = target(server.endpoints.register);
      const metadata = {
        client_name: 'bench', redirect_uris: [server.redirectUri], grant_types: ['authorization_code'],
        response_types: ['code'], token_endpoint_auth_method: 'none',
      };
      return { origin, request: { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) }, isSuccess: (s) => s === 201 };
    },
  },
];

/**
 * Refresh rotation over independent chains (families): a request takes an idle chain, sends its latest refresh
 * token, and the response puts the chain back with the rotated one. There are twice as many chains as
 * connections, so a connection always finds one idle; a chain whose refresh failed is dropped.
 */
function refreshChains(server: AuthServer, initial: string[]): Load {
  const idle = initial.map((token) => ({ token }));
  const { origin, path } = target(server.endpoints.token);
  return {
    origin,
    request: {
      method: 'POST', path, headers: { 'content-type': FORM, authorization: server.basic },
      setupRequest: (req, context) => {
        const chain = idle.shift();
        context.chain = chain;
        req.body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: chain?.token ?? 'no-idle-chain' }).toString();
        return req;
      },
      onResponse: (status, body, context) => {
        const chain = context.chain as { token: string } | undefined;
        if (!chain || status !== 200) return;
        const rotated = (JSON.parse(body) as TokenResponse).refresh_token;
        if (!rotated) return;
        chain.token = rotated;
        idle.push(chain);
      },
    },
    isSuccess: (status, body) => status === 200 && body.includes('"refresh_token"'),
  };
}

export function pingLoad(url: string): Load {
  const { origin, path } = target(url);
  return { origin, request: { method: 'GET', path }, isSuccess: ok };
}
