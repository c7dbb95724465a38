import { Inject, Injectable } from '@nestjs/common';
import { decodeProtectedHeader, errors as joseErrors, JWTPayload, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { Clock } from '../common/clock';
import { CryptoService } from '../common/crypto/crypto.service';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { GrantsService, RecordedAccessToken } from '../grants/grants.service';
import { BrowserSessionsService } from '../identity/sessions/browser-sessions.service';
import { SIGNING_ALG, SigningKeysService } from './signing-keys.service';

/** RFC 9068 §2.2 claims of our access tokens. */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  client_id: string;
  scope: string;
  iat: number;
  exp: number;
  jti: string;
  auth_time?: number;
  /** RFC 8693 §4.1: who acts for the subject (delegated tokens). */
  act?: { sub: string; [claim: string]: unknown };
  /** Principal tokens minted from a browser session: that session (OIDC's `sid`); the token ends with it. */
  sid?: string;
  /** Principal tokens minted from an access token: that token's `jti`; the token dies with it. */
  source_jti?: string;
}

export interface AccessTokenRequest {
  readonly subject: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** RFC 8707 resources, or none: then the audience is the issuer itself. */
  readonly resources?: readonly string[];
  readonly authTime?: Date | null;
  readonly extraClaims?: Record<string, unknown>;
  /** The token never outlives this (what it was minted from); by default it lives ACCESS_TOKEN_TTL. */
  readonly notAfter?: Date;
  /**
   * A token recorded earlier, signed again with its own `jti`, `iat` and `exp` (a refresh answered again within the
   * reuse grace window): every copy is the same token to the deny list, so revoking it revokes them all.
   */
  readonly reissue?: RecordedAccessToken;
}

export interface SignedAccessToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresAt: Date;
  readonly expiresIn: number;
}

export class InvalidAccessToken extends Error {
  override readonly name = 'InvalidAccessToken';
}

/** Signs and verifies this server's access tokens (RFC 9068 JWTs, ES256) and ID tokens (OIDC Core §2). */
@Injectable()
export class AccessTokensService {
  private readonly issuer: string;
  /** Claims of tokens verified before, by audience and token; each kept no longer than its token lives. */
  private readonly verified = new LRUCache<string, AccessTokenClaims>({ max: 20_000, ttl: 900_000 });

  constructor(
    private readonly keys: SigningKeysService,
    private readonly grants: GrantsService,
    private readonly sessions: BrowserSessionsService,
    private readonly crypto: CryptoService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.issuer = config.authorizationServer.issuerUrl;
  }

  async sign(request: AccessTokenRequest): Promise<SignedAccessToken> {
    const { kid, privateKey } = this.keys.signingKey();
    const now = this.clock.nowSeconds();
    const ttl = this.config.authorizationServer.accessTokenTtl;
    const { reissue } = request;
    const issuedAt = reissue ? Math.floor(reissue.issuedAt.getTime() / 1000) : now;
    const expiresAt = reissue
      ? Math.floor(reissue.expiresAt.getTime() / 1000)
      : now + (request.notAfter ? Math.max(0, Math.min(ttl, Math.floor(request.notAfter.getTime() / 1000) - now)) : ttl);
    const expiresIn = Math.max(0, expiresAt - now);
    const jti = reissue?.jti ?? this.crypto.randomToken(16);
    const resources = request.resources ?? [];
    const token = await new SignJWT({
      ...request.extraClaims,
      client_id: request.clientId,
      scope: request.scopes.join(' '),
      ...(request.authTime ? { auth_time: Math.floor(request.authTime.getTime() / 1000) } : {}),
    })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'at+jwt' })
      .setIssuer(this.issuer)
      .setSubject(request.subject)
      .setAudience(resources.length === 0 ? this.issuer : resources.length === 1 ? resources[0] : [...resources])
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(jti)
      .sign(privateKey);
    return { token, jti, expiresIn, expiresAt: new Date(expiresAt * 1000) };
  }

  /** OpenID Connect Core §2: for the client, about the user who signed in. */
  async signIdToken(claims: { subject: string; clientId: string; nonce?: string | null; authTime?: Date | null }): Promise<string> {
    const { kid, privateKey } = this.keys.signingKey();
    const now = this.clock.nowSeconds();
    return new SignJWT({
      ...(claims.nonce ? { nonce: claims.nonce } : {}),
      ...(claims.authTime ? { auth_time: Math.floor(claims.authTime.getTime() / 1000) } : {}),
    })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(claims.subject)
      .setAudience(claims.clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + this.config.authorizationServer.accessTokenTtl)
      .sign(privateKey);
  }

  /** Verified tokens remembered now. */
  get rememberedCount(): number {
    return this.verified.size;
  }

  /**
   * A token whose signature and claims were verified before, its claims from memory: an ES256 verification is
   * the largest cost of every bearer request (userinfo, introspection, the API). Only the exact bytes verified
   * before match, and only for the audience they were verified for; expiry is checked again on every use, and
   * everything that can change (the deny list, the session) is checked after this, every time.
   */
  private async verifiedSignature(token: string, kid: string | undefined, audience: string | undefined): Promise<AccessTokenClaims> {
    const cacheKey = `${audience ?? ''}\0${token}`;
    const known = this.verified.get(cacheKey);
    if (known) {
      if (known.exp <= this.clock.nowSeconds()) throw new InvalidAccessToken('expired');
      return known;
    }
    const claims = await this.verifySignature(token, kid, { audience });
    this.verified.set(cacheKey, Object.freeze(claims), { ttl: Math.max(1, claims.exp * 1000 - this.clock.now().getTime()) });
    return claims;
  }

  private async verifySignature(token: string, kid: string | undefined, options: { audience?: string; allowExpired?: boolean }): Promise<AccessTokenClaims> {
    const key = kid ? await this.keys.publicKey(kid) : undefined;
    if (!key) throw new InvalidAccessToken('unknown signing key');
    try {
      const { payload } = await jwtVerify(token, key, {
        issuer: this.issuer,
        algorithms: [SIGNING_ALG],
        typ: 'at+jwt',
        audience: options.audience,
        currentDate: options.allowExpired ? new Date(0) : this.clock.now(),
        requiredClaims: ['sub', 'jti', 'exp', 'iat', 'client_id'],
      });
      return payload as AccessTokenClaims;
    } catch (e) {
      throw new InvalidAccessToken(e instanceof joseErrors.JWTExpired ? 'expired' : 'invalid signature or claims');
    }
  }

  /**
   * Signature (a published key of ours), `typ: at+jwt`, issuer, expiry, and the deny list — all in memory. With
   * `audience`, the token must have been issued for it (RFC 8707: a token for another resource is refused).
   */
  async verify(token: string, options: { audience?: string; allowExpired?: boolean } = {}): Promise<AccessTokenClaims> {
    if (token.length > 8192 || token.split('.').length !== 3) throw new InvalidAccessToken('not a JWT');
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== SIGNING_ALG || header.typ !== 'at+jwt') throw new InvalidAccessToken('not an access token of this server');
      kid = header.kid;
    } catch (e) {
      throw e instanceof InvalidAccessToken ? e : new InvalidAccessToken('malformed JWT header');
    }
    const claims = options.allowExpired ? await this.verifySignature(token, kid, options) : await this.verifiedSignature(token, kid, options.audience);
    if (this.grants.isAccessTokenDenied(claims.jti)) throw new InvalidAccessToken('revoked');
    // The app it was issued to was deleted (SPEC §7: a token dies with its app).
    if (this.grants.isAccessTokenDenied(`client:${claims.client_id}`)) throw new InvalidAccessToken('its app was deleted');
    // A principal token dies with what it was minted from (SPEC §2).
    if (typeof claims.source_jti === 'string' && this.grants.isAccessTokenDenied(claims.source_jti)) throw new InvalidAccessToken('its source was revoked');
    if (typeof claims.sid === 'string' && !(await this.sessions.isLive(claims.sid))) throw new InvalidAccessToken('its session ended');
    return claims;
  }
}
