import type { AppConfig } from '../../config/app-config';
import { asErrorDescription } from './oauth-error';

/** RFC 9728 §3: the well-known suffix of protected resource metadata. */
export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource';

/**
 * RFC 9728 §3.1: where the metadata of the resource `resource` lives — the well-known suffix inserted between the
 * host and the path (`https://host/t1` → `https://host/.well-known/oauth-protected-resource/t1`).
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname.replace(/\/$/, '');
  return `${url.origin}${PROTECTED_RESOURCE_WELL_KNOWN}${path}`;
}

export interface BearerChallengeParams {
  /** RFC 6750 §3.1; none when the request carried no credentials at all. */
  readonly error?: 'invalid_request' | 'invalid_token' | 'insufficient_scope';
  readonly description?: string;
  /** With insufficient_scope: the scope that would do (step-up). */
  readonly scope?: string;
}

/**
 * The `WWW-Authenticate: Bearer` challenge of this server's protected resources (`/api` and userinfo, whose
 * identifier is the issuer): RFC 6750 §3 requires it on every 401, and RFC 9728 §5.1 adds `resource_metadata` so a
 * client that knows nothing else can find the authorization server and the scopes. While the authorization server
 * is off there is no metadata to point at, and no `resource_metadata`.
 */
export class BearerChallenge {
  readonly resourceMetadata?: string;

  constructor(config: Pick<AppConfig, 'authorizationServer'>) {
    const { enabled, issuerUrl } = config.authorizationServer;
    this.resourceMetadata = enabled ? protectedResourceMetadataUrl(issuerUrl) : undefined;
  }

  /** `Bearer realm="portcullis", error="…", error_description="…", scope="…", resource_metadata="…"` */
  value(params: BearerChallengeParams = {}): string {
    const parts: [string, string | undefined][] = [
      ['realm', 'portcullis'],
      ['error', params.error],
      ['error_description', params.description === undefined ? undefined : asErrorDescription(params.description)],
      ['scope', params.scope],
      ['resource_metadata', this.resourceMetadata],
    ];
    return `Bearer ${parts.filter(([, v]) => v !== undefined).map(([name, v]) => `${name}=${quoted(v!)}`).join(', ')}`;
  }

  headers(params: BearerChallengeParams = {}): Record<string, string> {
    return { 'WWW-Authenticate': this.value(params) };
  }
}

/** RFC 9110 §5.6.4 quoted-string. */
function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
