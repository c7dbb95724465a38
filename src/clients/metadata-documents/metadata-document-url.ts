import { MetadataDocumentProblem } from './metadata-document-fetcher';

/** Longer URLs are refused: a client_id is stored, logged and put in every token this client gets. */
export const MAX_DOCUMENT_URL_LENGTH = 1000;

/** A client_id that names a metadata document (or tries to, over http): anything else is a registered client_id. */
export function looksLikeDocumentUrl(clientId: string): boolean {
  return /^https?:\/\//i.test(clientId);
}

/**
 * draft-ietf-oauth-client-id-metadata-document §3: an https URL with a path, no fragment, no credentials and no
 * dot segments; and, when the operator lists domains, on one of them (`example.com` exactly, `*.example.com` any
 * subdomain).
 */
export function checkDocumentUrl(clientId: string, allowedDomains: readonly string[]): URL {
  if (clientId.length > MAX_DOCUMENT_URL_LENGTH) throw new MetadataDocumentProblem(`the client_id URL is longer than ${MAX_DOCUMENT_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    throw new MetadataDocumentProblem('the client_id is not a valid URL');
  }
  if (url.protocol !== 'https:') throw new MetadataDocumentProblem('a client_id URL must use https');
  if (url.username || url.password) throw new MetadataDocumentProblem('a client_id URL must not contain credentials');
  if (clientId.includes('#')) throw new MetadataDocumentProblem('a client_id URL must not contain a fragment');
  if (url.pathname === '/' || url.pathname === '') throw new MetadataDocumentProblem('a client_id URL must have a path');
  if (/\/\.{1,2}(\/|$)/.test(clientId.replace(/[?#].*$/, '').replace(/^https:\/\/[^/]*/i, ''))) {
    throw new MetadataDocumentProblem('a client_id URL must not contain . or .. path segments');
  }
  const host = url.hostname.toLowerCase();
  if (allowedDomains.length && !allowedDomains.some((d) => (d.startsWith('*.') ? host.endsWith(d.slice(1)) : host === d))) {
    throw new MetadataDocumentProblem(`documents from ${host} are not accepted here`);
  }
  return url;
}
