/**
 * The one typed, frozen view of Portcullis's settings. Every value comes from the environment or from the
 * optional YAML file named by CONFIG_FILE (SPEC §1); the environment wins. Nothing else in the code reads
 * `process.env`.
 */
export interface ScopeDefinition {
  readonly name: string;
  readonly description: string;
}

export interface AppConfig {
  readonly nodeEnv: string;
  readonly port: number;
  readonly host: string;
  /** Undefined: start the embedded PostgreSQL (SPEC §1). */
  readonly databaseUrl?: string;
  /** Where the embedded PostgreSQL keeps its data; kept across restarts. */
  readonly dataDir: string;
  /**
   * Bounds on waiting for PostgreSQL: a request that cannot get a connection within `connectTimeoutMs`, or whose
   * statement runs past `statementTimeoutMs`, answers 503 instead of hanging (SPEC §7: never a 500).
   */
  readonly database: {
    readonly poolSize: number;
    readonly connectTimeoutMs: number;
    readonly statementTimeoutMs: number;
    /** The LISTEN/NOTIFY connection's own URL (behind PgBouncer in transaction mode); undefined: DATABASE_URL. */
    readonly listenUrl?: string;
  };
  readonly logLevel: string;
  /** Behind a load balancer, which hops to trust for the client address (rate limits are per address). */
  readonly trustProxy: boolean | number | string;
  /** SIGTERM: how long `/readyz` says 503 before the listener closes, and how long requests in flight may take. */
  readonly shutdown: {
    readonly drainDelayMs: number;
    readonly timeoutMs: number;
  };
  /**
   * How often each instance prunes expired rows and sweeps unused self-registered apps (SPEC §6). Ten minutes
   * keeps the tables small at any load (each run deletes in bounded batches); shorter only costs idle queries.
   */
  readonly housekeeping: {
    readonly intervalMs: number;
  };
  /**
   * `/metrics` in the Prometheus text format. On by default: an operator's first question about a running server
   * is answered without a restart. `port` serves it on its own listener (on HOST) instead of the public one, so
   * a load balancer that forwards the main port never exposes it; undefined: the main port.
   */
  readonly metrics: {
    readonly enabled: boolean;
    readonly port?: number;
  };
  /**
   * Seconds an audit event is kept before housekeeping prunes it. A year covers an annual review and most
   * incident investigations; regulation may ask for longer, storage for shorter.
   */
  readonly audit: {
    readonly retentionSeconds: number;
  };
  readonly authorizationServer: {
    readonly enabled: boolean;
    /** No trailing slash: every `iss` and metadata URL is built by appending a path (RFC 8414 §2). */
    readonly issuerUrl: string;
    /** OAuth 2.1 §7.5.1 recommends PKCE for every client; false keeps it mandatory for public clients only. */
    readonly requirePkce: boolean;
    /** Seconds. Short-lived bearer JWTs limit the damage of a leak (RFC 9700 §2.2.1). */
    readonly accessTokenTtl: number;
    readonly refreshTokenTtl: number;
    /** RFC 6749 §4.1.2 recommends at most 10 minutes; a minute is plenty for a redirect. */
    readonly authCodeTtl: number;
    /**
     * Seconds during which a refresh token just rotated, presented again by the same client, answers the same
     * successor instead of revoking its family: an agent that retries a refresh whose answer it lost, or runs
     * several at once, keeps its session. 0 (the default) is strict rotation. RFC 9700 §4.14.2 makes reuse
     * detection the defence against a stolen refresh token, and every second of grace is a second in which a thief
     * racing the client is not detected, so it is bounded to 5 minutes.
     */
    readonly refreshReuseGrace: number;
    /** Encrypts signing keys at rest when set. */
    readonly keyEncryptionSecret?: string;
    /** Scopes declared in configuration, on top of the built-in ones. */
    readonly extraScopes: readonly ScopeDefinition[];
  };
  readonly dcr: {
    /** Off by default: open registration (RFC 7591 §3) is a choice an operator makes. */
    readonly enabled: boolean;
    readonly defaultOrg: string;
    /** RFC 7591 §3: when set, registration requires it as a bearer token. */
    readonly initialAccessToken?: string;
    /** Seconds after which a self-registered app that was never used is removed. */
    readonly unusedTtl: number;
    /** Seconds of idleness (and no live refresh token) after which a self-registered app is removed. */
    readonly idleTtl: number;
    /**
     * Registrations per source address and minute (RFC 7591 §3 leaves abuse control to the server): enough for any
     * real client, too few to flood the apps table. 0 turns the limit off (a test bed, a private network).
     */
    readonly rateLimit: number;
    /**
     * Seconds during which a public client registering again from the same address with the same metadata gets the
     * client it registered before instead of a new one (RFC 7591 §3.2.1 lets the server return what it registered):
     * MCP clients register on every connect, and the apps table would fill with identical clients. An hour covers
     * an agent's reconnects; 0 registers a new client every time. A confidential client always gets a new one, as
     * its secret cannot be shown twice.
     */
    readonly reuseWindow: number;
  };
  /**
   * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP's preferred way for a client
   * to identify itself): a `client_id` that is an https URL is the address of the client's metadata. Off by
   * default, like dynamic registration: letting any web page be a client is a choice an operator makes.
   */
  readonly metadataDocuments: {
    readonly enabled: boolean;
    /** Host names whose documents are accepted (`example.com`, `*.example.com`); empty: any host. */
    readonly allowedDomains: readonly string[];
    /**
     * Addresses that may be fetched although they are private, loopback, link-local or otherwise special (SSRF
     * protection, RFC 9700 §4.11's warning about server-side fetches): CIDR ranges; empty: none.
     */
    readonly allowedAddresses: readonly string[];
    /** Seconds a fetched document is used before it is fetched again, whatever its cache headers say: the floor… */
    readonly cacheMinSeconds: number;
    /** …and the ceiling, which also bounds how long a cached copy stands in while its host fails. */
    readonly cacheMaxSeconds: number;
    /** Milliseconds a fetch may take in all (connect, TLS, headers and body). */
    readonly fetchTimeoutMs: number;
    /** Extra certificate authorities (PEM) trusted for document hosts, besides Node's public roots. */
    readonly trustedCa?: string;
    /** DNS servers (`ip` or `ip:port`) for document hosts instead of the system resolver; empty: the system's. */
    readonly dnsServers: readonly string[];
  };
  readonly sessionTtl: number;
  readonly bootstrapAdmin: {
    readonly username: string;
    /** Undefined: a password is generated and printed once on an empty database. */
    readonly password?: string;
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
