// The whole authorization code flow as openid-client v6 runs it, with `fetch` playing the browser: authorize,
// sign in, consent, the redirect back; then the code exchange (openid-client checks iss, state, PKCE and the ID
// token), a refresh, userinfo, revocation of the refresh token, and a refresh that must now fail.
// Usage: node openid-client-flow.mjs <issuer> <client_id> <client_secret> <redirect_uri> <username> <password>
// (or the same as ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, USERNAME, PASSWORD in the environment).
// Prints one JSON document: what each step gave, or where and how it failed.
import * as client from 'openid-client';

const [issuer, clientId, clientSecret, redirectUri, username, password] = [
  ['ISSUER', 0], ['CLIENT_ID', 1], ['CLIENT_SECRET', 2], ['REDIRECT_URI', 3], ['USERNAME', 4], ['PASSWORD', 5],
].map(([name, i]) => process.argv[2 + i] ?? process.env[name]);

const report = { ok: false, steps: [] };
const step = (name, detail = {}) => report.steps.push({ step: name, ...detail });

/** A browser's cookie jar, reduced to what one origin needs: name → value, deletions honoured. */
const jar = new Map();
function keepCookies(response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attributes.some((a) => /^\s*expires=thu, 01 jan 1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a));
    if (expired || value === '') jar.delete(name);
    else jar.set(name, value);
  }
}
const cookieHeader = () => [...jar].map(([n, v]) => `${n}=${v}`).join('; ');

async function browse(url, init = {}) {
  const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie: cookieHeader() } });
  keepCookies(response);
  return response;
}

const decodeHtml = (s) => s
  .replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')
  .replace(/&#x3D;/g, '=').replace(/&#x60;/g, '`').replace(/&amp;/g, '&');

/** Every `<input type="hidden" name value>` of a page, in order (a name may repeat). */
function hiddenInputs(html) {
  const fields = [];
  for (const tag of html.matchAll(/<input\b[^>]*>/g)) {
    if (!/type="hidden"/.test(tag[0])) continue;
    const name = /name="([^"]*)"/.exec(tag[0])?.[1];
    const value = /value="([^"]*)"/.exec(tag[0])?.[1] ?? '';
    if (name) fields.push([decodeHtml(name), decodeHtml(value)]);
  }
  return fields;
}

function expectStatus(response, status, what) {
  if (response.status !== status) throw new Error(`${what}: expected ${status}, got ${response.status}`);
}

function errorOf(e) {
  return { name: e?.name, message: String(e?.message ?? e), code: e?.code, error: e?.error, error_description: e?.error_description, status: e?.status };
}

try {
  const config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, { execute: [client.allowInsecureRequests] });
  step('discovery', { issuer: config.serverMetadata().issuer });
  // openid-client normalises token_type to lower case; keep what the token endpoint really sent.
  const tokenEndpoint = config.serverMetadata().token_endpoint;
  const wireTokenTypes = [];
  config[client.customFetch] = async (url, options) => {
    const response = await fetch(url, options);
    if (url === tokenEndpoint && response.ok) wireTokenTypes.push((await response.clone().json()).token_type);
    return response;
  };

  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });

  // The browser: authorize → sign-in page → sign in → back to authorize → consent → Allow → the redirect URI.
  const toLogin = await browse(authorizationUrl);
  expectStatus(toLogin, 303, 'GET authorize without a session');
  const loginUrl = new URL(toLogin.headers.get('location'), issuer);
  step('authorize', { status: toLogin.status, location: loginUrl.pathname });

  const loginPage = await browse(loginUrl);
  expectStatus(loginPage, 200, 'GET /login');
  const loginFields = Object.fromEntries(hiddenInputs(await loginPage.text()));
  if (!loginFields.csrf_token) throw new Error('no csrf_token on the sign-in page');
  if (!jar.has('login_csrf')) throw new Error('no login_csrf cookie from the sign-in page');
  step('login_form', { status: loginPage.status, return_to: loginFields.return_to });

  const signedIn = await browse(new URL('/login', issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, csrf_token: loginFields.csrf_token, return_to: loginFields.return_to ?? '' }),
  });
  expectStatus(signedIn, 303, 'POST /login');
  const backToAuthorize = new URL(signedIn.headers.get('location'), issuer);
  step('login', { status: signedIn.status, location: backToAuthorize.pathname, session: jar.has('session_id') });

  const consentPage = await browse(backToAuthorize);
  expectStatus(consentPage, 200, 'GET authorize with a session');
  const consentFields = hiddenInputs(await consentPage.text());
  if (!consentFields.some(([name]) => name === 'csrf_token')) throw new Error('no csrf_token on the consent page');
  step('consent_page', { status: consentPage.status, fields: [...new Set(consentFields.map(([name]) => name))].sort() });

  const decided = await browse(new URL('/oauth2/authorize', issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams([...consentFields, ['decision', 'allow']]),
  });
  expectStatus(decided, 303, 'POST authorize (Allow)');
  const callback = new URL(decided.headers.get('location'));
  step('consent', {
    status: decided.status,
    redirect: `${callback.origin}${callback.pathname}`,
    params: Object.keys(Object.fromEntries(callback.searchParams)).sort(),
    iss: callback.searchParams.get('iss'),
    state_matches: callback.searchParams.get('state') === state,
  });

  // openid-client from here on: it checks iss (RFC 9207), state, PKCE, and the ID token (nonce included).
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  const idClaims = tokens.claims();
  report.token = {
    token_type: tokens.token_type,
    wire_token_type: wireTokenTypes.at(-1),
    expires_in: tokens.expires_in,
    scope: tokens.scope,
    has_access_token: typeof tokens.access_token === 'string',
    has_refresh_token: typeof tokens.refresh_token === 'string',
    id_token_claims: idClaims,
  };
  step('authorization_code_grant');

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  report.refresh = {
    token_type: refreshed.token_type,
    wire_token_type: wireTokenTypes.at(-1),
    scope: refreshed.scope,
    new_refresh_token: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
    new_access_token: refreshed.access_token !== tokens.access_token,
    id_token_sub: refreshed.claims()?.sub,
  };
  step('refresh_token_grant');

  report.userinfo = await client.fetchUserInfo(config, refreshed.access_token, idClaims.sub);
  step('userinfo');

  await client.tokenRevocation(config, refreshed.refresh_token);
  step('revocation');

  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token);
    report.refresh_after_revocation = { ok: true };
  } catch (e) {
    report.refresh_after_revocation = { ok: false, ...errorOf(e) };
  }
  step('refresh_after_revocation');
  report.ok = true;
} catch (e) {
  report.failure = { after: report.steps.at(-1)?.step ?? null, ...errorOf(e), cause: e?.cause ? errorOf(e.cause) : undefined };
}
process.stdout.write(JSON.stringify(report));
