// Discovery as oauth4webapi does it: fetch the well-known document for an issuer and validate it
// (RFC 8414 §3.3: the `issuer` must equal the issuer the client started from).
// Usage: node oauth4webapi-discovery.mjs <issuer> <oauth2|oidc>
import * as oauth from 'oauth4webapi';

const [issuerArg, algorithm] = process.argv.slice(2);
const issuer = new URL(issuerArg);
try {
  const response = await oauth.discoveryRequest(issuer, { algorithm, [oauth.allowInsecureRequests]: true });
  const url = response.url;
  const metadata = await oauth.processDiscoveryResponse(issuer, response);
  process.stdout.write(JSON.stringify({ ok: true, url, metadata }));
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e?.message ?? e), code: e?.code }));
}
