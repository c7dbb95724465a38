// What a client that knows only a resource URL does (RFC 9728 §5, as MCP clients do): call it without a valid
// token, read the resource_metadata of the Bearer challenge, fetch and validate the protected resource metadata
// (§3.3: `resource` must equal the resource identifier), then discover its authorization server (RFC 8414 §3.3).
// Usage: node oauth4webapi-resource-discovery.mjs <url of a protected route> <resource identifier>
import * as oauth from 'oauth4webapi';

const [routeArg, resourceArg] = process.argv.slice(2);
const insecure = { [oauth.allowInsecureRequests]: true };
try {
  let challenges;
  try {
    await oauth.protectedResourceRequest('not-a-valid-token', 'GET', new URL(routeArg), undefined, undefined, insecure);
  } catch (e) {
    if (!(e instanceof oauth.WWWAuthenticateChallengeError)) throw e;
    challenges = e.cause;
  }
  const resource = new URL(resourceArg);
  const response = await oauth.resourceDiscoveryRequest(resource, insecure);
  const metadataUrl = response.url;
  const metadata = await oauth.processResourceDiscoveryResponse(resource, response);
  const issuer = new URL(metadata.authorization_servers[0]);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  process.stdout.write(JSON.stringify({ ok: true, challenges, metadataUrl, metadata, issuer: as.issuer }));
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e?.message ?? e), code: e?.code }));
}
