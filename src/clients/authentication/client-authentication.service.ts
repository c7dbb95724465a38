import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { createHmac, randomBytes } from 'node:crypto';
import { CryptoService } from '../../common/crypto/crypto.service';
import { Metrics } from '../../common/metrics/metrics';
import { invalidClient, invalidRequest, OAuthError } from '../../common/oauth/oauth-error';
import { Limit, LimitExceeded, RateLimitsService } from '../../common/rate-limit/rate-limits.service';
import { AppsService, withoutSecretHash } from '../apps.service';
import type { AppEntity, TokenEndpointAuthMethod } from '../entities/app.entity';

export interface AuthenticatedClient {
  readonly app: Readonly<AppEntity>;
  readonly method: TokenEndpointAuthMethod;
}

/** What client authentication reads of a request: the Authorization header and the body. */
export interface ClientCredentialsSource {
  readonly authorization?: string;
  readonly body: Record<string, unknown> | undefined;
  /** The caller's address: failed secrets are limited per address and client. */
  readonly ip: string;
}

/**
 * Secret verifications (bcrypt runs) allowed per address and client_id in five minutes; a successful one is given
 * back. Enough for any real client — a right secret is cached after its first use — and too few to guess one.
 */
const SECRET_ATTEMPTS = 20;
const SECRET_WINDOW_SECONDS = 300;

/**
 * A successful bcrypt verification is remembered this long after its last use. bcrypt costs ~45 ms, which would
 * cap the token endpoint at ~40 requests per second per core; the cache keeps that cost to a client's first
 * request.
 */
const VERIFIED_TTL_MS = 5 * 60 * 1000;
const VERIFIED_MAX = 10_000;

/**
 * Client authentication for the token, revocation and introspection endpoints (RFC 6749 §2.3; OAuth 2.1 §2.4):
 * `client_secret_basic`, `client_secret_post`, or `none` for public clients — exactly one method per request.
 */
@Injectable()
export class ClientAuthenticationService {
  /**
   * Keys are HMACs of (client_id, stored hash, presented secret) under a per-process key: rotating or deleting a
   * secret changes or removes the stored hash, so its cached verifications can never match again, on any
   * instance. Only successes are cached; a wrong secret always pays for bcrypt.
   */
  private readonly verified = new LRUCache<string, true>({ max: VERIFIED_MAX, ttl: VERIFIED_TTL_MS, updateAgeOnGet: true });
  /**
   * Verifications running now, by the same key: concurrent requests with the same secret share one bcrypt run
   * and one attempt. Otherwise a busy client whose entry is cold (first use, or idle for the TTL) would spend
   * its attempts on its own right secret, in parallel, and be refused with 429.
   */
  private readonly verifying = new Map<string, Promise<boolean>>();
  private readonly cacheKey = randomBytes(32);
  private readonly attempts: Limit;

  constructor(
    private readonly apps: AppsService,
    private readonly crypto: CryptoService,
    limits: RateLimitsService,
    private readonly metrics: Metrics,
  ) {
    this.attempts = limits.limit({ name: 'client-secret', points: SECRET_ATTEMPTS, durationSeconds: SECRET_WINDOW_SECONDS });
  }

  async authenticate(source: ClientCredentialsSource): Promise<AuthenticatedClient> {
    const presented = readCredentials(source);
    const basic = presented.method === 'client_secret_basic';
    const app = await this.apps.findForAuthentication(presented.clientId);
    if (!app) throw invalidClient('client authentication failed', `unknown client_id`, basic);

    // SPEC §4: a client authenticates with the method it registered (RFC 7591 §2 token_endpoint_auth_method).
    if (presented.method !== 'none' && app.tokenEndpointAuthMethod !== 'none' && presented.method !== app.tokenEndpointAuthMethod) {
      throw invalidClient('client authentication failed', `registered for ${app.tokenEndpointAuthMethod}, tried ${presented.method}`, basic);
    }
    if (presented.method === 'none') {
      // A confidential client must prove itself; only apps registered as public may omit the secret.
      if (app.tokenEndpointAuthMethod !== 'none') throw invalidClient('client authentication failed', 'confidential client sent no secret', basic);
    } else {
      if (app.tokenEndpointAuthMethod === 'none' || !app.secretHash) {
        throw invalidClient('client authentication failed', 'public client sent a secret', basic);
      }
      if (!(await this.secretMatches(app.clientId, app.secretHash, presented.secret, source.ip))) {
        throw invalidClient('client authentication failed', 'wrong client secret', basic);
      }
    }
    this.apps.markUsed(app);
    return { app: withoutSecretHash(app), method: presented.method };
  }

  private async secretMatches(clientId: string, storedHash: string, secret: string, ip: string): Promise<boolean> {
    const key = createHmac('sha256', this.cacheKey).update(`${clientId}\0${storedHash}\0${secret}`).digest('base64url');
    const cached = this.verified.get(key) === true;
    this.metrics.clientAuthCacheLookup(cached);
    if (cached) return true;
    // bcrypt reads only 72 bytes: a longer presented secret could otherwise match on its prefix.
    if (Buffer.byteLength(secret, 'utf8') > 72) return false;
    const running = this.verifying.get(key);
    if (running) return running;
    const verification = this.verify(key, clientId, storedHash, secret, ip).finally(() => this.verifying.delete(key));
    this.verifying.set(key, verification);
    return verification;
  }

  private async verify(key: string, clientId: string, storedHash: string, secret: string, ip: string): Promise<boolean> {
    // Charged before bcrypt runs, so parallel guesses are all counted (the login limit's rule, SPEC §7).
    const attemptKey = `${ip}|${clientId}`;
    try {
      await this.attempts.charge(attemptKey);
    } catch (e) {
      if (!(e instanceof LimitExceeded)) throw e;
      throw new OAuthError('temporarily_unavailable', `too many failed client authentications; retry in ${e.retryAfterSeconds} s`, 429, 'client secret attempts exceeded', {
        'Retry-After': String(e.retryAfterSeconds),
      });
    }
    const ok = await this.crypto.verifyPassword(secret, storedHash);
    if (ok) {
      this.verified.set(key, true);
      await this.attempts.refund(attemptKey);
    }
    return ok;
  }
}

type Presented =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; secret: string }
  | { method: 'none'; clientId: string };

/** Reads the client's credentials, refusing more than one method (RFC 6749 §2.3) or malformed values. */
function readCredentials({ authorization, body }: ClientCredentialsSource): Presented {
  const bodyId = body?.client_id;
  const bodySecret = body?.client_secret;
  if (bodyId !== undefined && typeof bodyId !== 'string') throw invalidRequest('client_id must be a single string');
  if (bodySecret !== undefined && typeof bodySecret !== 'string') throw invalidRequest('client_secret must be a single string');

  const basic = authorization !== undefined && /^Basic\s/i.test(authorization) ? parseBasic(authorization) : undefined;
  if (basic) {
    if (bodySecret !== undefined) throw invalidRequest('use one client authentication method: HTTP Basic or client_secret in the body, not both');
    if (bodyId !== undefined && bodyId !== basic.clientId) throw invalidRequest('client_id in the body differs from the HTTP Basic credentials');
    return { method: 'client_secret_basic', ...basic };
  }
  if (!bodyId) throw invalidClient('client authentication is required (HTTP Basic, client_secret_post, or client_id for public clients)', 'no client_id');
  if (bodySecret !== undefined) return { method: 'client_secret_post', clientId: bodyId, secret: bodySecret };
  return { method: 'none', clientId: bodyId };
}

/**
 * RFC 6749 §2.3.1: the client id and secret are each form-url-encoded (RFC 6749 Appendix B) before being joined
 * by `:` and base64-encoded, so each part is decoded after splitting at the first colon.
 */
function parseBasic(header: string): { clientId: string; secret: string } {
  const encoded = header.replace(/^Basic\s+/i, '').trim();
  const fail = () => invalidClient('the HTTP Basic credentials are malformed', undefined, true);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length > 2048) throw fail();
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw fail();
  try {
    const clientId = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    if (!clientId) throw fail();
    return { clientId, secret };
  } catch {
    throw fail();
  }
}

const formDecode = (value: string): string => decodeURIComponent(value.replace(/\+/g, ' '));
