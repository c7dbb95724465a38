import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { ScopesService } from '../clients/scopes/scopes.service';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { PublishedDocument, publishedDocument } from '../common/http/published-documents';
import { PROTECTED_RESOURCE_WELL_KNOWN } from '../common/oauth/bearer-challenge';
import { API_SCOPES } from '../identity/auth/auth.decorators';
import { GRANT_TYPES_SUPPORTED } from '../token/grant-types/grant-type';

/** The endpoints of this server, relative to the issuer (RFC 8414 §2 derives every URL from it). */
export const ENDPOINTS = {
  authorization: '/oauth2/authorize',
  token: '/oauth2/token',
  jwks: '/oauth2/jwks',
  registration: '/oauth2/register',
  revocation: '/oauth2/revoke',
  introspection: '/oauth2/introspect',
  userinfo: '/oauth2/userinfo',
  docs: '/docs',
} as const;

const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'];
const CONFIDENTIAL_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'];

export type Metadata = Record<string, unknown>;

/** Which document a well-known URL naming the issuer's path asks for. */
export type MetadataKind = 'oauth' | 'openid' | 'protected-resource';

/** Metadata changes only with configuration, so caches and clients may keep it a few minutes. */
export const DISCOVERY_CACHE_CONTROL = 'public, max-age=300';

/**
 * RFC 8414 and OpenID Connect Discovery 1.0 metadata, and RFC 9728 metadata of this server's own API, computed
 * from configuration, never written by hand.
 */
@Injectable()
export class DiscoveryService {
  private readonly oauth: Metadata;
  private readonly openid: Metadata;
  private readonly protectedResource: Metadata;
  /** The issuer's path (`/t1` for `https://host/t1`), or '' when it has none. */
  readonly issuerPath: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    scopes: ScopesService,
  ) {
    const issuer = config.authorizationServer.issuerUrl;
    this.issuerPath = new URL(issuer).pathname.replace(/\/$/, '');
    const url = (path: string) => `${issuer}${path}`;
    this.oauth = {
      issuer,
      authorization_endpoint: url(ENDPOINTS.authorization),
      token_endpoint: url(ENDPOINTS.token),
      jwks_uri: url(ENDPOINTS.jwks),
      ...(config.dcr.enabled ? { registration_endpoint: url(ENDPOINTS.registration) } : {}),
      scopes_supported: scopes.names(),
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: GRANT_TYPES_SUPPORTED,
      token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
      revocation_endpoint: url(ENDPOINTS.revocation),
      revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
      introspection_endpoint: url(ENDPOINTS.introspection),
      introspection_endpoint_auth_methods_supported: CONFIDENTIAL_AUTH_METHODS,
      // OAuth 2.1 §4.1.1 / RFC 9700 §2.1.1: S256 only; `plain` would let an intercepted challenge redeem the code.
      code_challenge_methods_supported: ['S256'],
      // RFC 9207: every authorization response carries `iss`, against mix-up attacks.
      authorization_response_iss_parameter_supported: true,
      service_documentation: url(ENDPOINTS.docs),
      // draft-ietf-oauth-client-id-metadata-document §5: a client_id may be the URL of the client's metadata.
      ...(config.metadataDocuments.enabled ? { client_id_metadata_document_supported: true } : {}),
    };
    this.openid = {
      ...this.oauth,
      userinfo_endpoint: url(ENDPOINTS.userinfo),
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'name', 'given_name', 'family_name', 'email', 'registered_at'],
      prompt_values_supported: ['none', 'login', 'consent'],
    };
    // RFC 9728 §2. `/api` (and userinfo) accept the tokens minted for no RFC 8707 resource, whose audience is the
    // issuer (SPEC §4): so the issuer is the API's resource identifier, and §3.3 wants `resource` to be exactly it.
    this.protectedResource = {
      resource: issuer,
      authorization_servers: [issuer],
      // The scopes that open /api to an access token; §2 lets a resource leave out others it understands (userinfo's
      // `openid` is named by its own insufficient_scope challenge).
      scopes_supported: [...API_SCOPES],
      // RFC 6750 §2.1 only: a token in a form body or the query string is never accepted (SPEC §2).
      bearer_methods_supported: ['header'],
      resource_name: 'Portcullis API',
      resource_documentation: url(ENDPOINTS.docs),
      // Plain bearer tokens: neither mTLS-bound (RFC 8705) nor DPoP-bound (RFC 9449) ones are required.
      tls_client_certificate_bound_access_tokens: false,
      dpop_bound_access_tokens_required: false,
    };
  }

  authorizationServerMetadata(): Metadata {
    return this.oauth;
  }

  openIdConfiguration(): Metadata {
    return this.openid;
  }

  /** RFC 9728 metadata, at the plain well-known URL: only for an issuer without a path (§3.1). */
  protectedResourceMetadata(): Metadata {
    if (this.issuerPath !== '') throw new NotFoundException();
    return this.protectedResource;
  }

  /**
   * Every well-known URL of this issuer with its prebuilt document: the plain ones, and with an issuer path, the
   * path-inserted (RFC 8414 §3.1) and appended (OpenID Discovery §4) forms. The protected resource metadata has one
   * URL only, the resource identifier with the well-known suffix inserted (RFC 9728 §3.1): the plain one would
   * describe a resource at the host's root, which this is not.
   */
  published(): Map<string, PublishedDocument> {
    const oauth = publishedDocument(this.oauth, DISCOVERY_CACHE_CONTROL);
    const openid = publishedDocument(this.openid, DISCOVERY_CACHE_CONTROL);
    const documents = new Map([
      ['/.well-known/oauth-authorization-server', oauth],
      ['/.well-known/openid-configuration', openid],
    ]);
    if (this.issuerPath) {
      for (const [path, document] of [...documents]) {
        documents.set(`${path}${this.issuerPath}`, document);
        documents.set(`${this.issuerPath}${path}`, document);
      }
    }
    documents.set(`${PROTECTED_RESOURCE_WELL_KNOWN}${this.issuerPath}`, publishedDocument(this.protectedResource, DISCOVERY_CACHE_CONTROL));
    return documents;
  }

  /** The document for a well-known URL that names the issuer's path; any other path is not ours (404). */
  forIssuerPath(segments: string[] | string, kind: MetadataKind): Metadata {
    const path = `/${([] as string[]).concat(segments).join('/')}`;
    if (this.issuerPath === '' || path !== this.issuerPath) throw new NotFoundException();
    return kind === 'oauth' ? this.oauth : kind === 'openid' ? this.openid : this.protectedResource;
  }
}
