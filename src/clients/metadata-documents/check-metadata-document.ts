import type { ScopesService } from '../scopes/scopes.service';
import { checkClientMetadata, ClientMetadata, displayNameProblem, MetadataError } from '../registration/client-metadata';
import { MetadataDocumentProblem } from './metadata-document-fetcher';

export interface DocumentMetadata extends ClientMetadata {
  readonly name: string;
}

/**
 * draft-ietf-oauth-client-id-metadata-document §4.1: the document is RFC 7591 client metadata whose `client_id`
 * is its own URL, exactly; it has a name and redirect URIs; it describes a public client (`none`: nobody can
 * hold a secret for a document anyone can read) and holds no secret. The same checks as a registration apply to
 * the rest. A scope list names what the app may ask for; scopes this server does not have, or never grants to a
 * self-identified app, are left out rather than refused, since one document serves many servers.
 */
export function checkMetadataDocument(clientId: string, document: unknown, scopes: ScopesService): DocumentMetadata {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new MetadataDocumentProblem('the document is not a JSON object');
  }
  const d = document as Record<string, unknown>;
  if (d.client_id !== clientId) throw new MetadataDocumentProblem('the document\'s client_id is not its own URL');
  if (d.client_secret !== undefined || d.client_secret_expires_at !== undefined) {
    throw new MetadataDocumentProblem('the document must not contain a client secret');
  }
  if (d.token_endpoint_auth_method !== undefined && d.token_endpoint_auth_method !== 'none') {
    throw new MetadataDocumentProblem('token_endpoint_auth_method must be "none": a metadata document describes a public client');
  }
  if (d.client_name === undefined) throw new MetadataDocumentProblem('the document has no client_name');
  const nameProblem = displayNameProblem(d.client_name, 'client_name');
  if (nameProblem) throw new MetadataDocumentProblem(nameProblem);
  if (d.redirect_uris === undefined) throw new MetadataDocumentProblem('the document has no redirect_uris');
  try {
    const metadata = checkClientMetadata({
      redirect_uris: d.redirect_uris,
      client_name: d.client_name,
      grant_types: d.grant_types,
      response_types: d.response_types,
      token_endpoint_auth_method: 'none',
      scope: grantableScope(d.scope, scopes),
      logo_uri: d.logo_uri,
      client_uri: d.client_uri,
      application_type: d.application_type,
    }, 'cimd', scopes);
    return { ...metadata, name: metadata.name as string };
  } catch (e) {
    if (e instanceof MetadataError) throw new MetadataDocumentProblem(e.description);
    throw e;
  }
}

function grantableScope(value: unknown, scopes: ScopesService): string | undefined {
  if (typeof value !== 'string') return undefined;
  const names = value.split(' ').filter((s) => scopes.isSelfRegistrable(s));
  return names.length ? names.join(' ') : undefined;
}
