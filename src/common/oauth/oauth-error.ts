/**
 * One error of the OAuth protocol endpoints (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7591 §3.2.2; RFC 8707).
 * `description` goes to the client; `detail` only to the log. Written out by OAuthExceptionFilter.
 */
export class OAuthError extends Error {
  constructor(
    readonly code: string,
    readonly description: string,
    readonly status = 400,
    readonly detail?: string,
    /** Extra response headers, such as `WWW-Authenticate`. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(`${code}: ${description}`);
    this.name = 'OAuthError';
  }

  /**
   * Marks the error as one to send back to the client's verified redirect URI (RFC 6749 §4.1.2.1). Only call
   * this once the client and its redirect_uri are verified; before that, errors are shown to the user.
   */
  redirectTo(redirectUri: string, state: string | undefined): RedirectableOAuthError {
    return new RedirectableOAuthError(this, redirectUri, state);
  }
}

export class RedirectableOAuthError extends OAuthError {
  constructor(
    error: OAuthError,
    readonly redirectUri: string,
    readonly state: string | undefined,
  ) {
    super(error.code, error.description, error.status, error.detail, error.headers);
    this.name = 'RedirectableOAuthError';
  }
}

export const invalidRequest = (description: string, detail?: string) => new OAuthError('invalid_request', description, 400, detail);
export const invalidClient = (description: string, detail?: string, basicTried = false) =>
  new OAuthError('invalid_client', description, 401, detail, basicTried ? { 'WWW-Authenticate': 'Basic realm="portcullis", charset="UTF-8"' } : {});
export const invalidGrant = (description: string, detail?: string) => new OAuthError('invalid_grant', description, 400, detail);
export const unauthorizedClient = (description: string, detail?: string) => new OAuthError('unauthorized_client', description, 400, detail);
export const unsupportedGrantType = (description: string) => new OAuthError('unsupported_grant_type', description);
export const unsupportedResponseType = (description: string) => new OAuthError('unsupported_response_type', description);
export const invalidScope = (description: string, detail?: string) => new OAuthError('invalid_scope', description, 400, detail);
export const invalidTarget = (description: string) => new OAuthError('invalid_target', description);
export const accessDenied = (description: string) => new OAuthError('access_denied', description, 403);
export const loginRequired = (description: string) => new OAuthError('login_required', description);
export const consentRequired = (description: string) => new OAuthError('consent_required', description);
export const invalidRedirectUri = (description: string) => new OAuthError('invalid_redirect_uri', description);
export const invalidClientMetadata = (description: string) => new OAuthError('invalid_client_metadata', description);
export const serverError = (detail: string) => new OAuthError('server_error', 'the server could not complete the request', 500, detail);

/**
 * RFC 6749 §5.2 / §4.1.2.1: `error_description` is printable ASCII without `"` and `\`. Descriptions may quote what
 * the client sent, so they are made to fit: double quotes become single ones, anything else outside the set `?`.
 */
export function asErrorDescription(description: string): string {
  return description.replace(/"/g, "'").replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '?');
}
