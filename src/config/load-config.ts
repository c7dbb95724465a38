import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import ipaddr from 'ipaddr.js';
import { parse as parseYaml } from 'yaml';
import { AppConfig, ConfigError, ScopeDefinition } from './app-config';

type Env = Readonly<Record<string, string | undefined>>;

/** Where one setting lives: its environment name and its path in the YAML tree. */
interface Source {
  readonly env: string;
  readonly yaml: string;
}

const S = {
  nodeEnv: { env: 'NODE_ENV', yaml: 'nodeEnv' },
  port: { env: 'PORT', yaml: 'server.port' },
  host: { env: 'HOST', yaml: 'server.host' },
  databaseUrl: { env: 'DATABASE_URL', yaml: 'database.url' },
  dataDir: { env: 'DATA_DIR', yaml: 'database.dataDir' },
  poolSize: { env: 'DATABASE_POOL_SIZE', yaml: 'database.poolSize' },
  listenUrl: { env: 'DATABASE_LISTEN_URL', yaml: 'database.listenUrl' },
  connectTimeout: { env: 'DATABASE_CONNECT_TIMEOUT', yaml: 'database.connectTimeout' },
  statementTimeout: { env: 'DATABASE_STATEMENT_TIMEOUT', yaml: 'database.statementTimeout' },
  drainDelay: { env: 'SHUTDOWN_DRAIN_DELAY', yaml: 'server.shutdown.drainDelay' },
  shutdownTimeout: { env: 'SHUTDOWN_TIMEOUT', yaml: 'server.shutdown.timeout' },
  housekeepingInterval: { env: 'HOUSEKEEPING_INTERVAL', yaml: 'housekeeping.interval' },
  auditRetention: { env: 'AUDIT_RETENTION', yaml: 'audit.retention' },
  logLevel: { env: 'LOG_LEVEL', yaml: 'log.level' },
  metricsEnabled: { env: 'METRICS_ENABLED', yaml: 'metrics.enabled' },
  metricsPort: { env: 'METRICS_PORT', yaml: 'metrics.port' },
  trustProxy: { env: 'TRUST_PROXY', yaml: 'server.trustProxy' },
  asEnabled: { env: 'OAUTH2_AS_ENABLED', yaml: 'auth.oauth2.authorizationServer.enabled' },
  issuerUrl: { env: 'ISSUER_URL', yaml: 'auth.oauth2.authorizationServer.issuerURL' },
  requirePkce: { env: 'OAUTH2_REQUIRE_PKCE', yaml: 'auth.oauth2.authorizationServer.requirePKCE' },
  accessTokenTtl: { env: 'ACCESS_TOKEN_TTL', yaml: 'auth.oauth2.authorizationServer.accessTokenTTL' },
  refreshTokenTtl: { env: 'REFRESH_TOKEN_TTL', yaml: 'auth.oauth2.authorizationServer.refreshTokenTTL' },
  authCodeTtl: { env: 'AUTH_CODE_TTL', yaml: 'auth.oauth2.authorizationServer.authCodeTTL' },
  refreshReuseGrace: { env: 'OAUTH2_REFRESH_REUSE_GRACE', yaml: 'auth.oauth2.authorizationServer.refreshReuseGrace' },
  keyEncryptionSecret: { env: 'KEY_ENCRYPTION_SECRET', yaml: 'auth.oauth2.authorizationServer.keyEncryptionSecret' },
  scopes: { env: 'OAUTH2_SCOPES', yaml: 'auth.oauth2.scopes' },
  dcrEnabled: { env: 'OAUTH2_DCR_ENABLED', yaml: 'auth.oauth2.dcr.enabled' },
  dcrDefaultOrg: { env: 'OAUTH2_DCR_DEFAULT_ORG', yaml: 'auth.oauth2.dcr.defaultOrg' },
  dcrInitialAccessToken: { env: 'OAUTH2_DCR_INITIAL_ACCESS_TOKEN', yaml: 'auth.oauth2.dcr.initialAccessToken' },
  dcrUnusedTtl: { env: 'OAUTH2_DCR_UNUSED_TTL', yaml: 'auth.oauth2.dcr.unusedTTL' },
  dcrIdleTtl: { env: 'OAUTH2_DCR_IDLE_TTL', yaml: 'auth.oauth2.dcr.idleTTL' },
  dcrRateLimit: { env: 'OAUTH2_DCR_RATE_LIMIT', yaml: 'auth.oauth2.dcr.rateLimit' },
  dcrReuseWindow: { env: 'OAUTH2_DCR_REUSE_WINDOW', yaml: 'auth.oauth2.dcr.reuseWindow' },
  cimdEnabled: { env: 'OAUTH2_CIMD_ENABLED', yaml: 'auth.oauth2.clientIdMetadataDocuments.enabled' },
  cimdAllowedDomains: { env: 'OAUTH2_CIMD_ALLOWED_DOMAINS', yaml: 'auth.oauth2.clientIdMetadataDocuments.allowedDomains' },
  cimdAllowedAddresses: { env: 'OAUTH2_CIMD_ALLOWED_ADDRESSES', yaml: 'auth.oauth2.clientIdMetadataDocuments.allowedAddresses' },
  cimdCacheMin: { env: 'OAUTH2_CIMD_CACHE_MIN', yaml: 'auth.oauth2.clientIdMetadataDocuments.cacheMin' },
  cimdCacheMax: { env: 'OAUTH2_CIMD_CACHE_MAX', yaml: 'auth.oauth2.clientIdMetadataDocuments.cacheMax' },
  cimdFetchTimeout: { env: 'OAUTH2_CIMD_FETCH_TIMEOUT', yaml: 'auth.oauth2.clientIdMetadataDocuments.fetchTimeout' },
  cimdTrustedCaFile: { env: 'OAUTH2_CIMD_TRUSTED_CA_FILE', yaml: 'auth.oauth2.clientIdMetadataDocuments.trustedCaFile' },
  cimdDnsServers: { env: 'OAUTH2_CIMD_DNS_SERVERS', yaml: 'auth.oauth2.clientIdMetadataDocuments.dnsServers' },
  sessionTtl: { env: 'SESSION_TTL', yaml: 'auth.session.ttl' },
  adminUsername: { env: 'BOOTSTRAP_ADMIN_USERNAME', yaml: 'auth.bootstrapAdmin.username' },
  adminPassword: { env: 'BOOTSTRAP_ADMIN_PASSWORD', yaml: 'auth.bootstrapAdmin.password' },
} satisfies Record<string, Source>;

const BUILT_IN_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access', 'account', 'admin']);
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 §3.3 scope-token
const DURATION = /^(\d+)\s*(s|m|h|d)?$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;
/** A DNS host name: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*';
/** Seconds: beyond this a refresh-token grace window stops being a retry allowance. */
const MAX_REFRESH_REUSE_GRACE = 300;

/**
 * Reads and validates every setting once. Throws a ConfigError whose message is one line naming the setting
 * and what is wrong with it; `main.ts` prints that line and exits non-zero.
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const file = env.CONFIG_FILE ? readConfigFile(env.CONFIG_FILE) : {};
  const read = new SettingReader(env, file, env.CONFIG_FILE);

  const nodeEnv = read.string(S.nodeEnv) ?? 'development';
  const port = read.port(S.port) ?? 3000;
  const asEnabled = read.boolean(S.asEnabled) ?? true;
  const issuer = read.issuerUrl(S.issuerUrl);
  if (asEnabled && nodeEnv === 'production' && issuer === undefined) {
    throw new ConfigError(`${read.name(S.issuerUrl)} is required when the authorization server is enabled and NODE_ENV=production`);
  }

  const databaseUrl = read.databaseUrl(S.databaseUrl);
  const keyEncryptionSecret = read.secret(S.keyEncryptionSecret, 16);
  // The embedded setup generates its own secret; an external database in production must be given one, or the
  // private signing keys would sit in it in plain text.
  if (nodeEnv === 'production' && databaseUrl !== undefined && keyEncryptionSecret === undefined) {
    throw new ConfigError(`${read.name(S.keyEncryptionSecret)} is required with an external database when NODE_ENV=production (it encrypts the signing keys at rest)`);
  }

  const config: AppConfig = {
    nodeEnv,
    port,
    host: read.host(S.host) ?? '0.0.0.0',
    databaseUrl,
    dataDir: resolve(read.string(S.dataDir) ?? '.data'),
    database: {
      poolSize: read.poolSize(S.poolSize) ?? 10,
      connectTimeoutMs: (read.duration(S.connectTimeout) ?? 5) * 1000,
      statementTimeoutMs: (read.duration(S.statementTimeout) ?? 30) * 1000,
      listenUrl: read.databaseUrl(S.listenUrl),
    },
    logLevel: read.oneOf(S.logLevel, ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) ?? 'info',
    trustProxy: read.trustProxy(S.trustProxy) ?? false,
    shutdown: {
      drainDelayMs: (read.delay(S.drainDelay) ?? 5) * 1000,
      timeoutMs: (read.duration(S.shutdownTimeout) ?? 25) * 1000,
    },
    housekeeping: {
      intervalMs: (read.duration(S.housekeepingInterval) ?? 600) * 1000,
    },
    metrics: metricsSettings(read, port),
    audit: {
      retentionSeconds: read.duration(S.auditRetention) ?? 365 * 86400,
    },
    authorizationServer: {
      enabled: asEnabled,
      issuerUrl: issuer ?? `http://localhost:${port}`,
      requirePkce: read.boolean(S.requirePkce) ?? true,
      accessTokenTtl: read.duration(S.accessTokenTtl) ?? 900,
      refreshTokenTtl: read.duration(S.refreshTokenTtl) ?? 30 * 86400,
      authCodeTtl: read.duration(S.authCodeTtl) ?? 60,
      refreshReuseGrace: read.delay(S.refreshReuseGrace, MAX_REFRESH_REUSE_GRACE, 'a longer window weakens reuse detection (RFC 9700 §4.14.2)') ?? 0,
      keyEncryptionSecret,
      extraScopes: read.scopes(S.scopes),
    },
    dcr: {
      enabled: read.boolean(S.dcrEnabled) ?? false,
      defaultOrg: read.identifier(S.dcrDefaultOrg) ?? 'default',
      initialAccessToken: read.secret(S.dcrInitialAccessToken, 16),
      unusedTtl: read.duration(S.dcrUnusedTtl) ?? 86400,
      idleTtl: read.duration(S.dcrIdleTtl) ?? 30 * 86400,
      rateLimit: read.count(S.dcrRateLimit) ?? 20,
      reuseWindow: read.delay(S.dcrReuseWindow) ?? 3600,
    },
    metadataDocuments: metadataDocumentSettings(read),
    sessionTtl: read.duration(S.sessionTtl) ?? 12 * 3600,
    bootstrapAdmin: {
      username: read.identifier(S.adminUsername) ?? 'admin',
      password: read.secret(S.adminPassword, 8),
    },
  };
  return deepFreeze(config);
}

function metricsSettings(read: SettingReader, mainPort: number): AppConfig['metrics'] {
  const port = read.port(S.metricsPort);
  // 0 asks the system for a free port, for either listener; any other port can only be bound once.
  if (port !== undefined && port !== 0 && port === mainPort) {
    throw new ConfigError(`${read.name(S.metricsPort)} must differ from ${read.name(S.port)}: /metrics gets a listener of its own`);
  }
  return { enabled: read.boolean(S.metricsEnabled) ?? true, port };
}

function metadataDocumentSettings(read: SettingReader): AppConfig['metadataDocuments'] {
  const cacheMinSeconds = read.duration(S.cimdCacheMin) ?? 300;
  const cacheMaxSeconds = read.duration(S.cimdCacheMax) ?? 86400;
  if (cacheMaxSeconds < cacheMinSeconds) {
    throw new ConfigError(`${read.name(S.cimdCacheMax)} must not be shorter than ${read.name(S.cimdCacheMin)}`);
  }
  const fetchTimeout = read.duration(S.cimdFetchTimeout) ?? 5;
  if (fetchTimeout > 30) throw new ConfigError(`${read.name(S.cimdFetchTimeout)} must be at most 30 s: a sign-in waits for it`);
  const caFile = read.string(S.cimdTrustedCaFile);
  return {
    enabled: read.boolean(S.cimdEnabled) ?? false,
    allowedDomains: read.list(S.cimdAllowedDomains, (v) => new RegExp(`^(\\*\\.)?${HOST_NAME}$`).test(v), 'host names such as example.com or *.example.com')
      .map((d) => d.toLowerCase()),
    allowedAddresses: read.list(S.cimdAllowedAddresses, isCidr, 'CIDR ranges such as 127.0.0.1/32 or 10.0.0.0/8'),
    cacheMinSeconds,
    cacheMaxSeconds,
    fetchTimeoutMs: fetchTimeout * 1000,
    trustedCa: caFile === undefined ? undefined : read.pemFile(S.cimdTrustedCaFile, caFile),
    dnsServers: read.list(S.cimdDnsServers, isDnsServer, 'IP addresses, optionally with :port'),
  };
}

function isCidr(value: string): boolean {
  try {
    ipaddr.parseCIDR(value);
    return true;
  } catch {
    return false;
  }
}

function isDnsServer(value: string): boolean {
  const match = /^\[?([0-9a-f.:]+?)\]?(?::(\d{1,5}))?$/i.exec(value);
  return !!match && isIP(match[1]) !== 0 && (match[2] === undefined || Number(match[2]) <= 65535);
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`CONFIG_FILE ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`CONFIG_FILE ${path} is not valid YAML: ${String((e as Error).message).split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`CONFIG_FILE ${path} must hold a YAML mapping at its top level`);
  }
  return parsed as Record<string, unknown>;
}

/** Looks a setting up (environment first, then the file) and parses it, naming it in every error. */
class SettingReader {
  constructor(
    private readonly env: Env,
    private readonly file: Record<string, unknown>,
    private readonly fileName?: string,
  ) {}

  /** How an error names the setting: the variable, or the YAML key when the value came from the file. */
  name(source: Source): string {
    if (this.env[source.env] === undefined && this.fromFile(source) !== undefined) {
      return `${source.yaml} (in ${this.fileName})`;
    }
    return source.env;
  }

  private fromFile(source: Source): unknown {
    let node: unknown = this.file;
    for (const key of source.yaml.split('.')) {
      if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
      node = (node as Record<string, unknown>)[key];
    }
    return node;
  }

  private raw(source: Source): unknown {
    const fromEnv = this.env[source.env];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const fromFile = this.fromFile(source);
    return fromFile === null ? undefined : fromFile;
  }

  private fail(source: Source, what: string): never {
    throw new ConfigError(`${this.name(source)} ${what}`);
  }

  string(source: Source): string | undefined {
    const value = this.raw(source);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') this.fail(source, 'must be a string');
    return String(value).trim();
  }

  boolean(source: Source): boolean | undefined {
    const value = this.raw(source);
    if (value === undefined || typeof value === 'boolean') return value;
    const text = String(value).trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off'].includes(text)) return false;
    this.fail(source, `must be true or false, not "${String(value)}"`);
  }

  /** A whole number from 0 up. */
  count(source: Source): number | undefined {
    const value = this.string(source);
    if (value === undefined) return undefined;
    if (!/^\d{1,9}$/.test(value)) this.fail(source, `must be a whole number from 0 up, not "${value}"`);
    return Number(value);
  }

  /** Connections per instance: 1 to 1000. */
  poolSize(source: Source): number | undefined {
    const value = this.count(source);
    if (value !== undefined && !(value >= 1 && value <= 1000)) this.fail(source, `must be from 1 to 1000 connections, not "${value}"`);
    return value;
  }

  port(source: Source): number | undefined {
    const value = this.string(source);
    if (value === undefined) return undefined;
    const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
    if (!(port >= 0 && port <= 65535)) this.fail(source, `must be a port number from 0 to 65535, not "${value}"`);
    return port;
  }

  host(source: Source): string | undefined {
    const value = this.string(source);
    if (value === undefined) return undefined;
    if (!isIP(value) && !new RegExp(`^${HOST_NAME}$`).test(value)) this.fail(source, `must be an IP address or a host name, not "${value}"`);
    return value;
  }

  /**
   * Express's `trust proxy`: false (the default: the socket's address is the client's), true, a hop count, or a
   * comma-separated list of proxy addresses / subnets (`loopback`, `10.0.0.0/8`).
   */
  trustProxy(source: Source): boolean | number | string | undefined {
    const value = this.string(source);
    if (value === undefined) return undefined;
    if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
    if (/^\d{1,2}$/.test(value)) return Number(value);
    if (/^[A-Za-z0-9.:/_, -]{1,500}$/.test(value)) return value;
    this.fail(source, 'must be true, false, a hop count, or a comma-separated list of proxy addresses');
  }

  /** Seconds, as a whole number or with a unit: `900`, `900s`, `15m`, `12h`, `30d`. */
  duration(source: Source): number | undefined {
    const value = this.string(source);
    if (value === undefined) return undefined;
    const match = DURATION.exec(value);
    const seconds = match ? Number(match[1]) * UNIT_SECONDS[(match[2] ?? 's') as keyof typeof UNIT_SECONDS] : NaN;
    if (!(seconds > 0 && seconds <= 10 * 365 * 86400)) {
      this.fail(source, `must be a positive duration in seconds or with a unit (s, m, h, d), not "${value}"`);
    }
    return seconds;
  }

  /** Like a duration, but 0 is allowed: a wait that can be switched off. With `max`, longer is refused, saying `why`. */
  delay(source: Source, max?: number, why?: string): number | undefined {
    const seconds = this.string(source) === '0' ? 0 : this.duration(source);
    if (max !== undefined && seconds !== undefined && seconds > max) {
      this.fail(source, `must be at most ${max} seconds, not "${this.string(source)}": ${why}`);
    }
    return seconds;
  }

  oneOf<T extends string>(source: Source, allowed: readonly T[]): T | undefined {
    const value = this.string(source);
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) this.fail(source, `must be one of ${allowed.join(', ')}, not "${value}"`);
    return value as T;
  }

  /** RFC 8414 §2: an https (or, for development, http) URL with no query or fragment; no trailing slash here. */
  issuerUrl(source: Source): string | undefined {
    const value = this.string(source);
    if (value === undefined) return undefined;
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol) || value.endsWith('/') || url.search || url.hash ||
        url.username || url.password || !/^https?:\/\//i.test(value)) {
      this.fail(source, 'must be an absolute http(s) URL without a trailing slash, query or fragment');
    }
    return value;
  }

  databaseUrl(source: Source): string | undefined {
    const value = this.string(source);
    if (value === undefined) return undefined;
    let ok = false;
    try {
      const url = new URL(value);
      ok = (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
    } catch {
      ok = false;
    }
    // Never echo the value: it usually holds a password.
    if (!ok) this.fail(source, 'must be a postgres:// or postgresql:// URL with a host');
    return value;
  }

  /** A list: comma-separated in the environment, a YAML list (or the same string) in the file. */
  list(source: Source, valid: (value: string) => boolean, what: string): string[] {
    const value = this.raw(source);
    if (value === undefined) return [];
    const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
    if (!items || !items.every((i) => typeof i === 'string')) this.fail(source, `must be a list of ${what}`);
    const trimmed = (items as string[]).map((i) => i.trim()).filter((i) => i !== '');
    const bad = trimmed.find((i) => !valid(i));
    if (bad !== undefined) this.fail(source, `must be a list of ${what}; "${bad}" is not one`);
    return trimmed;
  }

  /** A PEM file, read now so a wrong path stops the start rather than the first fetch. */
  pemFile(source: Source, path: string): string {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      this.fail(source, `names a file that cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!text.includes('-----BEGIN CERTIFICATE-----')) this.fail(source, 'must name a PEM file of certificates');
    return text;
  }

  /** A secret is never echoed in an error. */
  secret(source: Source, minLength: number): string | undefined {
    const value = this.string(source);
    if (value === undefined) return undefined;
    if (value.length < minLength) this.fail(source, `must be at least ${minLength} characters long`);
    return value;
  }

  /** Org and user names: short, printable, no surrounding space. */
  identifier(source: Source): string | undefined {
    const value = this.string(source);
    if (value === undefined) return undefined;
    if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(value)) {
      this.fail(source, `must be 1-64 letters, digits, '.', '_', '@' or '-', not "${value}"`);
    }
    return value;
  }

  /**
   * Extra scopes: in YAML a list of `{name, description}`; in the environment `name=description` pairs
   * separated by `;`.
   */
  scopes(source: Source): ScopeDefinition[] {
    const value = this.raw(source);
    if (value === undefined) return [];
    let entries: unknown[];
    if (typeof value === 'string') {
      entries = value.split(';').filter((s) => s.trim() !== '').map((pair) => {
        const [name, ...rest] = pair.split('=');
        return { name: name.trim(), description: rest.join('=').trim() };
      });
    } else if (Array.isArray(value)) {
      entries = value;
    } else {
      this.fail(source, 'must be a list of {name, description}');
    }
    const seen = new Set<string>();
    return entries.map((entry) => {
      const { name, description } = (entry ?? {}) as Record<string, unknown>;
      if (typeof name !== 'string' || !SCOPE_TOKEN.test(name)) this.fail(source, `has a scope with an invalid name: ${JSON.stringify(name)}`);
      if (BUILT_IN_SCOPES.has(name) || seen.has(name)) this.fail(source, `declares the scope "${name}" twice or redefines a built-in scope`);
      if (typeof description !== 'string' || description === '') this.fail(source, `needs a description for the scope "${name}"`);
      seen.add(name);
      return { name, description };
    });
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
