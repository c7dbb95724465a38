// panva's oidc-provider, configured like Portcullis for bench/run.ts (and used only by it):
// - confidential clients with client_secret_basic, grants authorization_code + refresh_token + client_credentials,
//   PKCE (S256) required, refresh tokens issued on every code exchange and rotated on every use;
// - access tokens: ES256 JWTs for the resource (the issuer, like Portcullis's `aud` when no resource is named);
//   the second client ("opaque") gets no default resource, so its tokens are oidc-provider's opaque userinfo
//   tokens: the userinfo and introspection workloads run against those;
// - lifetimes as given by the bench (the same as Portcullis's), registration and revocation enabled;
// - login and consent finish at once for one fixed account (`/interaction/:uid` below, no devInteractions), and
//   the session remembers the grant (`loadExistingGrant`), so a later authorize redirects straight back with a code.
// Usage: node bench/oidc-provider-server.mjs '<json config>'   (see `Config` in bench/lib/servers.ts)
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(process.argv[2]);
const issuer = `http://127.0.0.1:${config.port}`;
const resource = issuer;
const ACCOUNT_ID = 'admin';
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

/**
 * The package's MemoryAdapter is an LRU of 1,000 entries (pre-minted codes would be evicted) whose per-grant
 * index rebuilds on every save (quadratic when every token shares the session's one grant). This is the same
 * idea without those two limits: plain Maps with expiry, O(1) per operation. It keeps every artifact in memory,
 * which shows in the process's RSS.
 */
const store = new Map(); // `${model}:${id}` -> { payload, expiresAt }
const grantMembers = new Map(); // grantId -> Set of store keys
const sessionUids = new Map(); // session uid -> session id

class BenchMemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  read(key) {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    store.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    if (this.model === 'Session') sessionUids.set(payload.uid, id);
    if (GRANTABLE.has(this.model) && payload.grantId) {
      let members = grantMembers.get(payload.grantId);
      if (!members) grantMembers.set(payload.grantId, (members = new Set()));
      members.add(key);
    }
  }

  async find(id) {
    return this.read(this.key(id));
  }

  async findByUid(uid) {
    const id = sessionUids.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode() {
    return undefined; // no device flow here
  }

  async consume(id) {
    const payload = this.read(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

// Expired artifacts go, as a TTL store would drop them.
setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of store) if (entry.expiresAt <= now) store.delete(key);
  for (const [grantId, members] of grantMembers) {
    for (const key of members) if (!store.has(key)) members.delete(key);
    if (members.size === 0) grantMembers.delete(grantId);
  }
}, 30_000).unref();

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'ES256', use: 'sig' };

const client = (clientId) => ({
  client_id: clientId,
  client_secret: config.clientSecret,
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  response_types: ['code'],
  redirect_uris: [config.redirectUri],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: 'ES256',
});

const provider = new Provider(issuer, {
  adapter: BenchMemoryAdapter,
  clients: [client(config.clientId), client(config.opaqueClientId)],
  jwks: { keys: [jwk] },
  clientDefaults: { id_token_signed_response_alg: 'ES256' }, // registered clients too: the only key is ES256
  cookies: { keys: ['bench-cookie-signing-key-0123456789abcdef'] },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: { openid: ['sub'], profile: ['name', 'given_name', 'family_name'], email: ['email', 'email_verified'] },
  findAccount: (_ctx, sub) => ({
    accountId: sub,
    claims: () => ({ sub, name: 'Bench Admin', given_name: 'Bench', family_name: 'Admin', email: 'admin@bench.invalid', email_verified: true }),
  }),
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 supports
  // oidc-provider drops `offline_access` from a request without prompt=consent (so every authorize would need an
  // interaction); these two give what Portcullis gives for the granted offline_access instead: a refresh token on
  // every code exchange, and tokens that outlive the browser session.
  issueRefreshToken: () => true,
  expiresWithSession: () => false,
  rotateRefreshToken: true,
  // Revoking one refresh token revokes that token, not the whole grant (the default revokes the grant, which
  // would also end the session's remembered consent for the workloads that follow). Reuse detection at the token
  // endpoint still revokes the grant.
  revokeGrantPolicy: (ctx) => ctx.oidc.route !== 'revocation',
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    AccessToken: config.accessTokenTtl,
    ClientCredentials: config.accessTokenTtl,
    AuthorizationCode: config.authCodeTtl,
    RefreshToken: config.refreshTokenTtl,
    IdToken: 3600,
    Grant: config.refreshTokenTtl,
    Session: 12 * 3600,
    Interaction: 600,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, c, oneOf) => oneOf?.[0] ?? (c.clientId === config.opaqueClientId ? undefined : resource),
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return { scope: 'openid profile email offline_access', accessTokenFormat: 'jwt', accessTokenTTL: config.accessTokenTtl, jwt: { sign: { alg: 'ES256' } } };
      },
    },
  },
});

/** Signs the fixed account in and grants what the client asked for (every missing scope and resource scope). */
async function finishInteraction(req, res) {
  const { prompt, params, grantId, session } = await provider.interactionDetails(req, res);
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: ACCOUNT_ID } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = grantId ? await provider.Grant.find(grantId) : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
}

const handle = provider.callback();
createServer((req, res) => {
  if (!req.url.startsWith('/interaction/')) return handle(req, res);
  finishInteraction(req, res).catch((e) => {
    res.statusCode = 500;
    res.end(String(e?.stack ?? e));
  });
}).listen(config.port, '127.0.0.1', () => process.stdout.write('READY\n'));
