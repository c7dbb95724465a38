import { invalidRequest } from '../../common/oauth/oauth-error';

/** `state` and `nonce` are opaque, but must appear at most once and stay a reasonable size. */
export function checkOptionalText(raw: unknown, name: string, maxLength: number): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw invalidRequest(`${name} must appear once`);
  if (raw.length > maxLength) throw invalidRequest(`${name} is longer than ${maxLength} characters`);
  return raw;
}
