import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './app-config';
import { loadConfig } from './load-config';

function yamlFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'portcullis-config-')), 'config.yaml');
  writeFileSync(file, text);
  return file;
}

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives the SPEC §1 defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      authorizationServer: {
        enabled: true,
        issuerUrl: 'http://localhost:3000',
        requirePkce: true,
        accessTokenTtl: 900,
        refreshTokenTtl: 30 * 86400,
        authCodeTtl: 60,
      },
      dcr: { enabled: false, defaultOrg: 'default' },
      sessionTtl: 12 * 3600,
      bootstrapAdmin: { username: 'admin', password: undefined },
      database: { poolSize: 10, connectTimeoutMs: 5000, statementTimeoutMs: 30_000 },
    });
    expect(config.dataDir).toMatch(/\.data$/);
  });

  it('reads the shutdown timings, a drain delay of 0 included', () => {
    expect(loadConfig({}).shutdown).toEqual({ drainDelayMs: 5000, timeoutMs: 25_000 });
    expect(loadConfig({ SHUTDOWN_DRAIN_DELAY: '0', SHUTDOWN_TIMEOUT: '1m' }).shutdown).toEqual({ drainDelayMs: 0, timeoutMs: 60_000 });
  });

  it('reads the refresh-token reuse grace: strict (0) unless set, in seconds or with a unit', () => {
    expect(loadConfig({}).authorizationServer.refreshReuseGrace).toBe(0);
    expect(loadConfig({ OAUTH2_REFRESH_REUSE_GRACE: '0' }).authorizationServer.refreshReuseGrace).toBe(0);
    expect(loadConfig({ OAUTH2_REFRESH_REUSE_GRACE: '30' }).authorizationServer.refreshReuseGrace).toBe(30);
    expect(loadConfig({ OAUTH2_REFRESH_REUSE_GRACE: '5m' }).authorizationServer.refreshReuseGrace).toBe(300);
  });

  it('reads the refresh-token reuse grace from the YAML tree', () => {
    const file = yamlFile('auth:\n  oauth2:\n    authorizationServer:\n      refreshReuseGrace: 1m\n');
    expect(loadConfig({ CONFIG_FILE: file }).authorizationServer.refreshReuseGrace).toBe(60);
  });

  it('reads the registration limit per address and minute: 20 unless set, 0 turning it off', () => {
    expect(loadConfig({}).dcr.rateLimit).toBe(20);
    expect(loadConfig({ OAUTH2_DCR_RATE_LIMIT: '0' }).dcr.rateLimit).toBe(0);
    expect(loadConfig({ OAUTH2_DCR_RATE_LIMIT: '100' }).dcr.rateLimit).toBe(100);
    expect(loadConfig({ CONFIG_FILE: yamlFile('auth:\n  oauth2:\n    dcr:\n      rateLimit: 5\n') }).dcr.rateLimit).toBe(5);
  });

  it('reads the re-registration window: an hour unless set, 0 turning it off, in seconds or with a unit', () => {
    expect(loadConfig({}).dcr.reuseWindow).toBe(3600);
    expect(loadConfig({ OAUTH2_DCR_REUSE_WINDOW: '0' }).dcr.reuseWindow).toBe(0);
    expect(loadConfig({ OAUTH2_DCR_REUSE_WINDOW: '90' }).dcr.reuseWindow).toBe(90);
    expect(loadConfig({ OAUTH2_DCR_REUSE_WINDOW: '10m' }).dcr.reuseWindow).toBe(600);
    expect(loadConfig({ CONFIG_FILE: yamlFile('auth:\n  oauth2:\n    dcr:\n      reuseWindow: 2h\n') }).dcr.reuseWindow).toBe(7200);
  });

  it('reads the client metadata document settings: off, no lists, 5 min to 24 h, 5 s unless set', () => {
    expect(loadConfig({}).metadataDocuments).toEqual({
      enabled: false, allowedDomains: [], allowedAddresses: [], cacheMinSeconds: 300, cacheMaxSeconds: 86400, fetchTimeoutMs: 5000, trustedCa: undefined, dnsServers: [],
    });
    const set = loadConfig({
      OAUTH2_CIMD_ENABLED: 'true', OAUTH2_CIMD_ALLOWED_DOMAINS: 'Example.com, *.agents.example.net', OAUTH2_CIMD_ALLOWED_ADDRESSES: '127.0.0.1/32,fd00::/8',
      OAUTH2_CIMD_CACHE_MIN: '1m', OAUTH2_CIMD_CACHE_MAX: '2h', OAUTH2_CIMD_FETCH_TIMEOUT: '2', OAUTH2_CIMD_DNS_SERVERS: '10.0.0.2, 127.0.0.1:5353, [::1]:53',
    }).metadataDocuments;
    expect(set).toMatchObject({
      enabled: true, allowedDomains: ['example.com', '*.agents.example.net'], allowedAddresses: ['127.0.0.1/32', 'fd00::/8'],
      cacheMinSeconds: 60, cacheMaxSeconds: 7200, fetchTimeoutMs: 2000, dnsServers: ['10.0.0.2', '127.0.0.1:5353', '[::1]:53'],
    });
    const yaml = 'auth:\n  oauth2:\n    clientIdMetadataDocuments:\n      enabled: true\n      allowedDomains:\n        - agents.example.com\n';
    expect(loadConfig({ CONFIG_FILE: yamlFile(yaml) }).metadataDocuments).toMatchObject({ enabled: true, allowedDomains: ['agents.example.com'] });
  });

  it('reads the housekeeping interval: ten minutes unless set', () => {
    expect(loadConfig({}).housekeeping).toEqual({ intervalMs: 600_000 });
    expect(loadConfig({ HOUSEKEEPING_INTERVAL: '2s' }).housekeeping).toEqual({ intervalMs: 2000 });
    expect(() => loadConfig({ HOUSEKEEPING_INTERVAL: '0' })).toThrow('HOUSEKEEPING_INTERVAL must be a positive duration');
  });

  it('reads the metrics settings: /metrics on the main port unless METRICS_PORT is set, off with METRICS_ENABLED=false', () => {
    expect(loadConfig({}).metrics).toEqual({ enabled: true, port: undefined });
    expect(loadConfig({ METRICS_ENABLED: 'false' }).metrics).toEqual({ enabled: false, port: undefined });
    expect(loadConfig({ METRICS_PORT: '9464' }).metrics).toEqual({ enabled: true, port: 9464 });
    expect(loadConfig({ METRICS_PORT: '0', PORT: '0' }).metrics).toEqual({ enabled: true, port: 0 });
  });

  it('reads the metrics settings from the YAML tree', () => {
    const file = yamlFile('metrics:\n  enabled: false\n  port: 9100\n');
    expect(loadConfig({ CONFIG_FILE: file }).metrics).toEqual({ enabled: false, port: 9100 });
  });

  it('reads the audit retention: a year unless set, as a duration, from the YAML tree too', () => {
    expect(loadConfig({}).audit).toEqual({ retentionSeconds: 365 * 86400 });
    expect(loadConfig({ AUDIT_RETENTION: '90d' }).audit).toEqual({ retentionSeconds: 90 * 86400 });
    expect(loadConfig({ CONFIG_FILE: yamlFile('audit:\n  retention: 30d\n') }).audit).toEqual({ retentionSeconds: 30 * 86400 });
    expect(() => loadConfig({ AUDIT_RETENTION: '0' })).toThrow('AUDIT_RETENTION must be a positive duration');
    expect(() => loadConfig({ AUDIT_RETENTION: 'forever' })).toThrow('AUDIT_RETENTION must be a positive duration');
  });

  it('reads the database bounds', () => {
    expect(loadConfig({ DATABASE_POOL_SIZE: '25', DATABASE_CONNECT_TIMEOUT: '2s', DATABASE_STATEMENT_TIMEOUT: '1m' }).database)
      .toEqual({ poolSize: 25, connectTimeoutMs: 2000, statementTimeoutMs: 60_000, listenUrl: undefined });
    expect(loadConfig({ DATABASE_LISTEN_URL: 'postgres://u:p@db-direct:5432/portcullis' }).database.listenUrl).toBe('postgres://u:p@db-direct:5432/portcullis');
  });

  it('reads TRUST_PROXY as a boolean, a hop count or a list', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
  });

  it('derives the default issuer from PORT', () => {
    expect(loadConfig({ PORT: '8080' }).authorizationServer.issuerUrl).toBe('http://localhost:8080');
  });

  it('is frozen', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.authorizationServer)).toBe(true);
  });

  it('reads durations with units', () => {
    const config = loadConfig({ ACCESS_TOKEN_TTL: '15m', REFRESH_TOKEN_TTL: '30d', AUTH_CODE_TTL: '90s', SESSION_TTL: '12h' });
    expect(config.authorizationServer).toMatchObject({ accessTokenTtl: 900, refreshTokenTtl: 2592000, authCodeTtl: 90 });
    expect(config.sessionTtl).toBe(43200);
  });

  it('reads the YAML tree of SPEC §1 from CONFIG_FILE', () => {
    const file = yamlFile(`
auth:
  oauth2:
    authorizationServer:
      enabled: true
      issuerURL: https://auth.example.com/t1
      accessTokenTTL: 10m
    dcr:
      enabled: true
      defaultOrg: partners
    scopes:
      - name: reports:read
        description: Read your reports
`);
    const config = loadConfig({ CONFIG_FILE: file });
    expect(config.authorizationServer.issuerUrl).toBe('https://auth.example.com/t1');
    expect(config.authorizationServer.accessTokenTtl).toBe(600);
    expect(config.dcr).toMatchObject({ enabled: true, defaultOrg: 'partners' });
    expect(config.authorizationServer.extraScopes).toEqual([{ name: 'reports:read', description: 'Read your reports' }]);
  });

  it('lets the environment win over the file', () => {
    const file = yamlFile('auth:\n  oauth2:\n    dcr:\n      enabled: true\n      defaultOrg: fromfile\n');
    const config = loadConfig({ CONFIG_FILE: file, OAUTH2_DCR_ENABLED: 'false', OAUTH2_DCR_DEFAULT_ORG: 'fromenv' });
    expect(config.dcr).toMatchObject({ enabled: false, defaultOrg: 'fromenv' });
  });

  describe('refuses, naming the setting in one line', () => {
    it.each([
      [{ ISSUER_URL: 'http://localhost:3000/' }, 'ISSUER_URL must be an absolute http(s) URL without a trailing slash'],
      [{ ISSUER_URL: 'localhost:3000' }, 'ISSUER_URL must be an absolute http(s) URL'],
      [{ ISSUER_URL: 'ftp://example.com' }, 'ISSUER_URL must be an absolute http(s) URL'],
      [{ ISSUER_URL: 'https://example.com?x=1' }, 'ISSUER_URL must be an absolute http(s) URL'],
      [{ ISSUER_URL: 'https://example.com#f' }, 'ISSUER_URL must be an absolute http(s) URL'],
      [{ NODE_ENV: 'production' }, 'ISSUER_URL is required when the authorization server is enabled and NODE_ENV=production'],
      [{ PORT: 'eighty' }, 'PORT must be a port number from 0 to 65535, not "eighty"'],
      [{ PORT: '70000' }, 'PORT must be a port number'],
      [{ HOST: 'not a host!' }, 'HOST must be an IP address or a host name'],
      [{ DATABASE_URL: 'mysql://db/x' }, 'DATABASE_URL must be a postgres:// or postgresql:// URL with a host'],
      [{ OAUTH2_AS_ENABLED: 'maybe' }, 'OAUTH2_AS_ENABLED must be true or false, not "maybe"'],
      [{ OAUTH2_DCR_ENABLED: 'yes please' }, 'OAUTH2_DCR_ENABLED must be true or false'],
      [{ OAUTH2_REQUIRE_PKCE: '2' }, 'OAUTH2_REQUIRE_PKCE must be true or false'],
      [{ OAUTH2_DCR_DEFAULT_ORG: 'bad org name' }, 'OAUTH2_DCR_DEFAULT_ORG must be 1-64 letters'],
      [{ ACCESS_TOKEN_TTL: '-5' }, 'ACCESS_TOKEN_TTL must be a positive duration'],
      [{ REFRESH_TOKEN_TTL: '0' }, 'REFRESH_TOKEN_TTL must be a positive duration'],
      [{ AUTH_CODE_TTL: '1 week' }, 'AUTH_CODE_TTL must be a positive duration'],
      [{ SESSION_TTL: 'forever' }, 'SESSION_TTL must be a positive duration'],
      [{ BOOTSTRAP_ADMIN_USERNAME: '  ' + 'x'.repeat(80) }, 'BOOTSTRAP_ADMIN_USERNAME must be 1-64 letters'],
      [{ BOOTSTRAP_ADMIN_PASSWORD: 'short' }, 'BOOTSTRAP_ADMIN_PASSWORD must be at least 8 characters long'],
      [{ KEY_ENCRYPTION_SECRET: 'tiny' }, 'KEY_ENCRYPTION_SECRET must be at least 16 characters long'],
      [{ OAUTH2_DCR_INITIAL_ACCESS_TOKEN: 'tiny' }, 'OAUTH2_DCR_INITIAL_ACCESS_TOKEN must be at least 16 characters long'],
      [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent'],
      [{ TRUST_PROXY: 'every$one' }, 'TRUST_PROXY must be true, false, a hop count, or a comma-separated list of proxy addresses'],
      [{ OAUTH2_DCR_IDLE_TTL: 'soon' }, 'OAUTH2_DCR_IDLE_TTL must be a positive duration'],
      [{ OAUTH2_DCR_RATE_LIMIT: '-1' }, 'OAUTH2_DCR_RATE_LIMIT must be a whole number from 0 up, not "-1"'],
      [{ OAUTH2_DCR_RATE_LIMIT: 'lots' }, 'OAUTH2_DCR_RATE_LIMIT must be a whole number from 0 up'],
      [{ OAUTH2_DCR_REUSE_WINDOW: '-1' }, 'OAUTH2_DCR_REUSE_WINDOW must be a positive duration'],
      [{ OAUTH2_DCR_REUSE_WINDOW: 'a while' }, 'OAUTH2_DCR_REUSE_WINDOW must be a positive duration'],
      [{ DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE must be from 1 to 1000 connections, not "0"'],
      [{ OAUTH2_CIMD_ALLOWED_DOMAINS: 'example.com, http://x' }, 'OAUTH2_CIMD_ALLOWED_DOMAINS must be a list of host names such as example.com or *.example.com; "http://x" is not one'],
      [{ OAUTH2_CIMD_ALLOWED_ADDRESSES: '10.0.0.0/33' }, 'OAUTH2_CIMD_ALLOWED_ADDRESSES must be a list of CIDR ranges such as 127.0.0.1/32 or 10.0.0.0/8; "10.0.0.0/33" is not one'],
      [{ OAUTH2_CIMD_CACHE_MIN: '2h', OAUTH2_CIMD_CACHE_MAX: '1h' }, 'OAUTH2_CIMD_CACHE_MAX must not be shorter than OAUTH2_CIMD_CACHE_MIN'],
      [{ OAUTH2_CIMD_FETCH_TIMEOUT: '1m' }, 'OAUTH2_CIMD_FETCH_TIMEOUT must be at most 30 s: a sign-in waits for it'],
      [{ OAUTH2_CIMD_TRUSTED_CA_FILE: '/nonexistent/ca.pem' }, 'OAUTH2_CIMD_TRUSTED_CA_FILE names a file that cannot be read (ENOENT)'],
      [{ OAUTH2_CIMD_DNS_SERVERS: 'dns.example.com' }, 'OAUTH2_CIMD_DNS_SERVERS must be a list of IP addresses, optionally with :port; "dns.example.com" is not one'],
      [{ DATABASE_LISTEN_URL: 'mysql://db/x' }, 'DATABASE_LISTEN_URL must be a postgres:// or postgresql:// URL with a host'],
      [{ DATABASE_POOL_SIZE: 'many' }, 'DATABASE_POOL_SIZE must be a whole number from 0 up'],
      [{ DATABASE_CONNECT_TIMEOUT: 'never' }, 'DATABASE_CONNECT_TIMEOUT must be a positive duration'],
      [{ DATABASE_STATEMENT_TIMEOUT: '0' }, 'DATABASE_STATEMENT_TIMEOUT must be a positive duration'],
      [{ OAUTH2_SCOPES: 'openid=mine' }, 'OAUTH2_SCOPES declares the scope "openid" twice or redefines a built-in scope'],
      [{ OAUTH2_SCOPES: 'bad"scope=desc' }, 'OAUTH2_SCOPES has a scope with an invalid name'],
      [{ OAUTH2_SCOPES: 'reports=' }, 'OAUTH2_SCOPES needs a description for the scope "reports"'],
      [{ OAUTH2_REFRESH_REUSE_GRACE: '301' }, 'OAUTH2_REFRESH_REUSE_GRACE must be at most 300 seconds, not "301": a longer window weakens reuse detection (RFC 9700 §4.14.2)'],
      [{ OAUTH2_REFRESH_REUSE_GRACE: '1h' }, 'OAUTH2_REFRESH_REUSE_GRACE must be at most 300 seconds, not "1h"'],
      [{ OAUTH2_REFRESH_REUSE_GRACE: '-1' }, 'OAUTH2_REFRESH_REUSE_GRACE must be a positive duration'],
      [{ OAUTH2_REFRESH_REUSE_GRACE: 'a bit' }, 'OAUTH2_REFRESH_REUSE_GRACE must be a positive duration'],
      [{ METRICS_ENABLED: 'sometimes' }, 'METRICS_ENABLED must be true or false, not "sometimes"'],
      [{ METRICS_PORT: 'metrics' }, 'METRICS_PORT must be a port number from 0 to 65535, not "metrics"'],
      [{ METRICS_PORT: '3000' }, 'METRICS_PORT must differ from PORT: /metrics gets a listener of its own'],
      [{ METRICS_PORT: '8080', PORT: '8080' }, 'METRICS_PORT must differ from PORT'],
      [{ CONFIG_FILE: '/nonexistent/portcullis.yaml' }, 'CONFIG_FILE /nonexistent/portcullis.yaml cannot be read: ENOENT'],
    ])('%j', (env, message) => {
      const error = errorOf(env as Record<string, string>);
      expect(error.startsWith(message)).toBe(true);
      expect(error).not.toContain('\n');
    });

    it('never echoes a secret it refuses', () => {
      expect(errorOf({ DATABASE_URL: 'mysql://user:s3cr3t-pass@db/x' })).not.toContain('s3cr3t');
      expect(errorOf({ BOOTSTRAP_ADMIN_PASSWORD: 'pw123' })).not.toContain('pw123');
    });

    it('names the YAML key and the file when the bad value came from the file', () => {
      const file = yamlFile('auth:\n  oauth2:\n    authorizationServer:\n      issuerURL: "https://example.com/"\n');
      expect(errorOf({ CONFIG_FILE: file })).toBe(
        `auth.oauth2.authorizationServer.issuerURL (in ${file}) must be an absolute http(s) URL without a trailing slash, query or fragment`,
      );
    });

    it('refuses a file that is not YAML', () => {
      expect(errorOf({ CONFIG_FILE: yamlFile('auth: [unclosed') })).toMatch(/^CONFIG_FILE .* is not valid YAML/);
    });

    it('refuses a file whose top level is not a mapping', () => {
      expect(errorOf({ CONFIG_FILE: yamlFile('- a\n- b\n') })).toMatch(/must hold a YAML mapping/);
    });

    it('refuses a wrongly typed value in the file', () => {
      const file = yamlFile('auth:\n  oauth2:\n    dcr:\n      enabled: [1, 2]\n');
      expect(errorOf({ CONFIG_FILE: file })).toMatch(/^auth\.oauth2\.dcr\.enabled \(in .*\) must be true or false/);
    });
  });

  it('accepts ISSUER_URL in production', () => {
    expect(loadConfig({ NODE_ENV: 'production', ISSUER_URL: 'https://auth.example.com' }).authorizationServer.issuerUrl).toBe('https://auth.example.com');
  });

  it('does not require ISSUER_URL in production when the server is disabled', () => {
    expect(loadConfig({ NODE_ENV: 'production', OAUTH2_AS_ENABLED: 'false' }).authorizationServer.enabled).toBe(false);
  });
});
