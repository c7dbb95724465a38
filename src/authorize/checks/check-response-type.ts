import { invalidRequest, unsupportedResponseType } from '../../common/oauth/oauth-error';

/** OAuth 2.1 §4.1.1: only the authorization code flow; the implicit flow (`token`) is gone. */
export function checkResponseType(raw: unknown): 'code' {
  if (raw === undefined || raw === '') throw invalidRequest('response_type is missing');
  if (raw !== 'code') throw unsupportedResponseType('response_type must be "code"');
  return 'code';
}
