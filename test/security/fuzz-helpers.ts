import fc from 'fast-check';
import { Client } from 'pg';
import { request } from 'node:http';
import { TestApp } from '../helpers/app';

/**
 * The building blocks of test/security/fuzz.e2e-spec.ts: hostile values, the wire encodings that carry them
 * unchanged, the check that an answer is a refusal in the endpoint's own format, and the database checks that a
 * refusal wrote nothing.
 */

// --- Running properties --------------------------------------------------------------------------------------

/**
 * Every property uses this seed: a failure found once is found again, on every machine and in CI. `FUZZ_SEED=n npm
 * test -- test/security/fuzz` explores other inputs; a failure found that way gets its own fixed case.
 */
export const SEED = Number(process.env.FUZZ_SEED ?? 20261202);

/** Longer than any honest answer of a test app: past it, the server is taken to hang. */
export const DEADLINE_MS = 10_000;

/** What one property may spend before it stops generating runs (it then passes on the runs it made). */
const PROPERTY_TIME_LIMIT_MS = 40_000;

/** A jest timeout for one property: the time limit, one hung request, and shrinking. */
export const PROPERTY_TIMEOUT_MS = 120_000;

export function options<T>(numRuns: number): fc.Parameters<T> {
  return { seed: SEED, numRuns, plugins: [fc.interruptAfterTimeLimit(PROPERTY_TIME_LIMIT_MS)] };
}

// --- Hostile values ------------------------------------------------------------------------------------------

/**
 * Values that have broken parsers, databases and templates before: byte-order marks, bidi overrides, CR/LF, escapes
 * that decode to nothing, injection classics, numbers that overflow, URIs a redirect must never follow.
 */
const NASTY_STRINGS: readonly string[] = [
  '', ' ', '\uFFFF', '\uFEFF', '\u202E', '\r\n', '\t', '%00', '%E0%A4%A', '%ZZ', '../../../etc/passwd', '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>', "' OR '1'='1", '"; DROP TABLE users; --', '${7*7}', '{{constructor.constructor("return 1")()}}',
  '__proto__', 'constructor', 'null', 'undefined', 'NaN', '-1', '0', '1e309', '9'.repeat(400), 'https://evil.example/cb',
  'javascript:alert(1)', 'http://127.0.0.1:1/cb#frag', 'é', 'e\u0301', '𝒳', '😀'.repeat(50),
];

/** Text no endpoint can mean: NUL (PostgreSQL refuses it in text) and lone surrogates (not encodable as UTF-8). */
const UNREPRESENTABLE_STRINGS: readonly string[] = ['\u0000', 'a\u0000b', '\u0000'.repeat(20), '\uD800', 'x\uDFFFy', '\uDBFF\uD800'];

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/**
 * Hostile text. Unrepresentable text is kept rare: the server refuses it before reading anything else, so a
 * request that carries it tests nothing beyond that first check.
 */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  // 0001–00FF: control characters and Latin-1.
  { weight: 2, arbitrary: fc.string({ unit: fc.integer({ min: 1, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 24 }) },
  // A few kilobytes: past every column's length, still under the body limit.
  { weight: 1, arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 200, max: 500 })).map(([s, n]) => s.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom(...UNREPRESENTABLE_STRINGS) },
  // fast-check's units never produce a lone surrogate: mix them in on purpose.
  { weight: 1, arbitrary: fc.string({ unit: fc.oneof(loneSurrogate, fc.constantFrom('a', '\u0000')), minLength: 1, maxLength: 6 }) },
);

/** Names that mean something to JavaScript objects or to parsers of nested parameters. */
const hostileName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', '__proto__[admin]', 'a[b][c]', ''),
  hostileString,
);

/** What a JSON body can carry where a string is expected: strings, arrays, objects, numbers, booleans, null. */
const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(2 ** 64), fc.constant(-0)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(hostileName, hostileString, { maxKeys: 3 }) },
);

/** Header values as Node can send them (no NUL, CR or LF: the HTTP client itself refuses those). */
export const headerString: fc.Arbitrary<string> = fc.string({
  unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff })).map((c) => String.fromCharCode(c)),
  maxLength: 40,
});

// --- Form bodies and query strings ---------------------------------------------------------------------------

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * Percent-encodes the UTF-8 bytes of any string, even one `encodeURIComponent` refuses (a lone surrogate becomes
 * EF BF BD, as Node encodes it), so the value reaches the server exactly as generated.
 */
export function formEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += UNRESERVED.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Wire fragments that are not valid percent-encoding, or decode to bytes that are not UTF-8, or split pairs. */
export const BROKEN_ESCAPES: readonly string[] = [
  '%E0%A4%A', '%ZZ', '%', '%%', '%0', '%00', 'a%00b', '%FF%FE', '%C0%AF', '%C0%80', '%ED%A0%80', '%F4%90%80%80', '%u0041',
  '+%2B+', '&', '=', '==&&', '%0D%0ASet-Cookie:%20x=1',
];

/** Realistic values per parameter name: a request valid by chance now and then, hostile the rest of the time. */
export type Fields = Record<string, readonly string[]>;

/**
 * A request as a client would build it with a few of its fields mutated, or, less often, every field mutated. A
 * request with one bad field reaches the checks of the fields before it; counterexamples shrink towards the fewest
 * mutations of a realistic request.
 */
function mutatedRequest<T>(names: string[], real: fc.Arbitrary<T>[], mutated: fc.Arbitrary<T>[]): fc.Arbitrary<T[]> {
  const indices = names.map((_, i) => i);
  const few = fc.tuple(fc.tuple(...real), fc.tuple(...mutated), fc.subarray(indices, { maxLength: Math.min(3, indices.length) }))
    .map(([r, m, chosen]) => indices.map((i) => (chosen.includes(i) ? m[i] : r[i])));
  const all = fc.tuple(...mutated);
  return fc.oneof({ weight: 3, arbitrary: few }, { weight: 1, arbitrary: all });
}

function wireValue(choices: readonly string[]): fc.Arbitrary<string> {
  const real = choices.length ? [fc.constantFrom(...choices)] : [];
  return fc.oneof(
    { weight: 3, arbitrary: hostileString.map(formEncode) },
    { weight: 1, arbitrary: fc.constantFrom(...BROKEN_ESCAPES) },
    ...real.map((arbitrary) => ({ weight: 1, arbitrary: fc.tuple(arbitrary, fc.constantFrom(...BROKEN_ESCAPES)).map(([v, e]) => formEncode(v) + e) })),
  );
}

/**
 * A form body or query string (already encoded) from realistic fields, a few of them dropped, replaced by a hostile
 * value, broken, or repeated (RFC 6749 §3.1: no parameter may appear twice), plus a few unknown parameters.
 */
export function wireParams(fields: Fields): fc.Arbitrary<string> {
  const names = Object.keys(fields);
  const real = names.map((name) => (fields[name].length ? fc.constantFrom(...fields[name]).map((v) => [`${name}=${formEncode(v)}`]) : fc.constant<string[]>([])));
  const mutated = names.map((name) => {
    const value = fc.oneof(...(fields[name].length ? [fc.constantFrom(...fields[name]).map(formEncode)] : []), wireValue(fields[name]));
    return fc.oneof(
      fc.constant<string[]>([]),
      wireValue(fields[name]).map((v) => [`${name}=${v}`]),
      fc.tuple(value, value).map(([a, b]) => [`${name}=${a}`, `${name}=${b}`]),
      fc.constantFrom([`${name}[]=x`], [`${name}[0]=x`], [name], [`${name}=`], [`${name.toUpperCase()}=x`], [`${name}%00=x`]),
    );
  });
  const unknown = fc.array(fc.tuple(hostileName.map(formEncode), wireValue([])).map(([n, v]) => `${n}=${v}`), { maxLength: 2 });
  return fc.tuple(mutatedRequest(names, real, mutated), unknown).map(([known, extra]) => [...known.flat(), ...extra].join('&'));
}

// --- JSON bodies -----------------------------------------------------------------------------------------------

export type JsonFields = Record<string, readonly unknown[]>;

/** Marks a field left out of a JSON body. */
const ABSENT = Symbol('absent');

function mutatedJsonValue(choices: readonly unknown[]): fc.Arbitrary<unknown> {
  if (!choices.length) return fc.oneof(fc.constant(ABSENT), hostileJson);
  const real = fc.constantFrom(...choices);
  return fc.oneof(
    fc.constant(ABSENT),
    hostileJson,
    // An array, or an object, where one value is expected.
    real.map((v) => [v]),
    real.map((v) => [v, v]),
    real.map((v) => ({ value: v })),
    real.map((v) => (typeof v === 'string' ? `${v}\u0000` : [v, '\u0000'])),
  );
}

/** A JSON object from realistic fields, a few of them dropped or replaced by a value of any type, plus unknown keys. */
export function jsonBody(fields: JsonFields): fc.Arbitrary<Record<string, unknown>> {
  const names = Object.keys(fields);
  const real = names.map((name) => (fields[name].length ? fc.constantFrom(...fields[name]) : fc.constant<unknown>(ABSENT)));
  const mutated = names.map((name) => mutatedJsonValue(fields[name]));
  return fc.tuple(mutatedRequest(names, real, mutated), fc.dictionary(hostileName, hostileJson, { maxKeys: 2 }))
    .map(([values, extra]) => ({ ...extra, ...Object.fromEntries(names.map((n, i) => [n, values[i]]).filter(([, v]) => v !== ABSENT)) }));
}

// --- Raw bodies ----------------------------------------------------------------------------------------------

export interface RawBody {
  readonly label: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
  /** Malformed whatever the endpoint: it must be refused (4xx), or with exactly this status. */
  readonly refused?: true | number;
}

const JSON_TYPE = { 'Content-Type': 'application/json' };
const FORM_TYPE = { 'Content-Type': 'application/x-www-form-urlencoded' };
const LIMIT = 100 * 1024;

/**
 * Bodies no client should send, each once on every POST endpoint: wrong and broken media types, invalid UTF-8,
 * NUL bytes, deep nesting, bodies over the 100 kB limit, too many parameters. `names` are the endpoint's own
 * parameters, so the hostile values land where the endpoint reads. Some are malformed whatever the endpoint
 * (`refused`); the others may be ignored by an endpoint that reads no body.
 */
export function rawBodies(names: readonly string[]): RawBody[] {
  const [first = 'name', second = 'other'] = names;
  const deepArrays = '['.repeat(5000) + ']'.repeat(5000);
  const everyName = (value: unknown) => JSON.stringify(Object.fromEntries(names.map((n) => [n, value])));
  return [
    { label: 'no body and no content type', headers: {} },
    { label: 'an empty JSON body', headers: JSON_TYPE, body: '' },
    { label: 'an empty form body', headers: FORM_TYPE, body: '' },
    // body-parser's strict mode: only an object or an array is a JSON body.
    ...['null', 'true', '42', '"text"'].map((body) => ({ label: `the JSON scalar ${body}`, headers: JSON_TYPE, body, refused: true as const })),
    ...['[]', '[{}]'].map((body) => ({ label: `the JSON array ${body}`, headers: JSON_TYPE, body })),
    { label: 'truncated JSON', headers: JSON_TYPE, body: `{"${first}": "a",`, refused: true },
    { label: 'invalid UTF-8 in JSON', headers: JSON_TYPE, body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) },
    { label: 'invalid UTF-8 in a JSON value', headers: JSON_TYPE, body: Buffer.concat([Buffer.from(`{"${first}":"`), Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80]), Buffer.from('"}')]) },
    { label: 'invalid UTF-8 in a form', headers: FORM_TYPE, body: Buffer.concat([Buffer.from(`${first}=`), Buffer.from([0xff, 0xfe]), Buffer.from(`&${second}=%FF%C0%AF`)]) },
    { label: 'an escaped NUL in every JSON value', headers: JSON_TYPE, body: everyName('a\u0000b'), refused: true },
    { label: 'an escaped lone surrogate in every JSON value', headers: JSON_TYPE, body: everyName('a\uD800b'), refused: true },
    { label: 'an array in every JSON value', headers: JSON_TYPE, body: everyName(['a', 'b']) },
    { label: 'an object in every JSON value', headers: JSON_TYPE, body: everyName({ a: 'b' }) },
    { label: 'a raw NUL byte inside a JSON string', headers: JSON_TYPE, body: Buffer.from(`{"${first}":"a\u0000b"}`), refused: true },
    { label: 'a NUL in every form value', headers: FORM_TYPE, body: names.map((n) => `${n}=a%00b`).join('&'), refused: true },
    { label: 'every form parameter twice', headers: FORM_TYPE, body: names.flatMap((n) => [`${n}=a`, `${n}=b`]).join('&') },
    { label: '5,000 nested arrays', headers: JSON_TYPE, body: deepArrays, refused: true },
    { label: '5,000 nested objects', headers: JSON_TYPE, body: '{"a":'.repeat(5000) + '1' + '}'.repeat(5000), refused: true },
    { label: '5,000 nested arrays in a field', headers: JSON_TYPE, body: `{"${first}":${deepArrays}}`, refused: true },
    { label: 'a JSON body over 100 kB', headers: JSON_TYPE, body: JSON.stringify({ [first]: 'x'.repeat(LIMIT + 50_000) }), refused: 413 },
    { label: 'a form body over 100 kB', headers: FORM_TYPE, body: `${first}=${'x'.repeat(LIMIT + 50_000)}`, refused: 413 },
    { label: '2,000 form parameters', headers: FORM_TYPE, body: Array.from({ length: 2000 }, (_, i) => `p${i}=${i}`).join('&'), refused: true },
    { label: 'one form parameter 1,000 times', headers: FORM_TYPE, body: Array.from({ length: 1000 }, () => `${first}=x`).join('&') },
    { label: 'malformed percent-encoding in a form', headers: FORM_TYPE, body: `${first}=%E0%A4%A&${second}=%ZZ&%=%` },
    { label: 'a form sent as JSON', headers: JSON_TYPE, body: `${first}=a&${second}=b` },
    { label: 'JSON sent as a form', headers: FORM_TYPE, body: `{"${first}":"a"}` },
    { label: 'duplicated JSON keys', headers: JSON_TYPE, body: `{"${first}":"a","${first}":["b"]}` },
    { label: 'a byte-order mark before JSON', headers: JSON_TYPE, body: '\uFEFF{}' },
    { label: 'a number too large for a double', headers: JSON_TYPE, body: `{"${first}":1e400}` },
    { label: 'prototype keys', headers: JSON_TYPE, body: '{"__proto__":{"admin":true},"constructor":{"prototype":{"polluted":1}}}' },
    { label: 'text/plain', headers: { 'Content-Type': 'text/plain' }, body: `${first}=a` },
    { label: 'XML with an external entity', headers: { 'Content-Type': 'application/xml' }, body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>' },
    { label: 'multipart with garbage', headers: { 'Content-Type': 'multipart/form-data; boundary=xyz' }, body: Buffer.concat([Buffer.from(`--xyz\r\nContent-Disposition: form-data; name="${first}"\r\n\r\n`), Buffer.from([0x00, 0xff]), Buffer.from('\r\n--xy')]) },
    { label: 'multipart without a boundary', headers: { 'Content-Type': 'multipart/form-data' }, body: 'garbage' },
    { label: 'JSON in an unknown charset', headers: { 'Content-Type': 'application/json; charset=klingon' }, body: '{}', refused: true },
    { label: 'UTF-8 bytes labelled UTF-16', headers: { 'Content-Type': 'application/json; charset=utf-16' }, body: '{}', refused: true },
    { label: 'a form in an unknown charset', headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=ebcdic' }, body: `${first}=a`, refused: true },
    { label: 'a malformed content type', headers: { 'Content-Type': 'application/json;;; charset' }, body: '{}' },
    { label: 'a gzip body that is not gzip', headers: { ...JSON_TYPE, 'Content-Encoding': 'gzip' }, body: '{"not":"gzip"}', refused: true },
    { label: 'an unknown content encoding', headers: { ...JSON_TYPE, 'Content-Encoding': 'compress' }, body: '{}', refused: true },
  ];
}

/** A random body under a random, often wrong, content type. */
export const randomRawBody: fc.Arbitrary<RawBody> = fc
  .tuple(
    fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/octet-stream', 'application/json; charset=latin1', 'text/html'),
    fc.oneof(hostileString, fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'), fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b))),
  )
  .map(([type, body]) => ({ label: `random ${type}`, headers: { 'Content-Type': type }, body }));

// --- Credentials -----------------------------------------------------------------------------------------------

/** HTTP Basic from any two strings: each part form-encoded (RFC 6749 §2.3.1) byte by byte. */
export function basicOf(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString('base64')}`;
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

/** Authorization headers that are not valid HTTP Basic, or not Basic at all. */
export const BROKEN_BASIC: readonly string[] = [
  'Basic', 'Basic ', 'Basic !!!not-base64!!!', `Basic ${b64('no-colon')}`, `Basic ${b64(':')}`, `Basic ${b64('::::')}`,
  `Basic ${b64('id\u0000:secret\u0000')}`, `Basic ${b64('%ZZ:%E0%A4%A')}`, `Basic ${b64('%00:%00')}`,
  `Basic ${b64(Buffer.from([0xff, 0xfe, 0x3a, 0xc0, 0xaf]))}`, `Basic ${'A'.repeat(4000)}`, `basic ${b64('a:b')}`,
  `Basic ${b64('a:b')}, Basic ${b64('c:d')}`, 'Bearer abc', 'Digest username="a"', `Basic ${b64('a:b')}===`,
];

/** An unsigned JWT (`alg: none`) claiming to be an access token of this server: never accepted. */
export function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'at+jwt' })}.${part(claims)}.`;
}

/** Cookies the browser never sent: empty, NUL, broken escapes, cookie-parser's `j:` JSON prefix, repeats. */
export const HOSTILE_COOKIES: readonly string[] = [
  'session_id=', 'session_id=%00', 'session_id=a%00b', 'session_id=%E0%A4%A', 'session_id=j:{"a":1}', 'session_id=j:[1,2]',
  'session_id=j:null', 'session_id=j:"x"', 'session_id=s:abc.def', 'session_id=a; session_id=b', `session_id=${'A'.repeat(4000)}`,
  'login_csrf=j:{}', '=; ;;', 'session_id="quoted"', 'session_id=%C0%AF',
];

// --- What an answer must look like ----------------------------------------------------------------------------

/**
 * The error format of each family of routes (SPEC §2): RFC 6749 JSON on the protocol endpoints, RFC 7807
 * problem+json on /api (and on anything else outside /oauth2), an HTML error page on the pages; the well-known
 * documents answer JSON of either kind, never HTML.
 */
export type Family = 'oauth' | 'problem' | 'page' | 'discovery';

const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';
const PROBLEM_TYPES = ['not_found', 'unauthorised', 'forbidden', 'internal_server_error', 'validation_error', 'invalid_parameter', 'missing_parameter', 'conflict', 'unspecified'];
/** RFC 6749 §5.2: `error` is limited to these characters. */
const OAUTH_ERROR_CODE = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/;
/** RFC 7591 §3.2.2 and RFC 6749 §5.2: a description is ASCII text, so it never echoes a NUL or a surrogate back. */
const OAUTH_DESCRIPTION = /^[\x20-\x7E]*$/;

function parsed(res: Answer): unknown {
  try {
    return JSON.parse(res.text);
  } catch {
    return undefined;
  }
}

function oauthProblems(res: Answer): string[] {
  const body = parsed(res) as Record<string, unknown> | undefined;
  const problems: string[] = [];
  if (!/^application\/json\b/.test(res.headers['content-type'] ?? '')) problems.push('not application/json');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [...problems, 'body is not a JSON object'];
  if (typeof body.error !== 'string' || !OAUTH_ERROR_CODE.test(body.error)) problems.push('no RFC 6749 `error`');
  if (body.error_description !== undefined && (typeof body.error_description !== 'string' || !OAUTH_DESCRIPTION.test(body.error_description))) {
    problems.push('`error_description` is not printable ASCII');
  }
  const extra = Object.keys(body).filter((k) => !['error', 'error_description', 'error_uri'].includes(k));
  if (extra.length) problems.push(`unexpected keys ${extra.join(', ')}`);
  if (res.headers['cache-control'] !== 'no-store') problems.push('no Cache-Control: no-store');
  return problems;
}

function problemProblems(res: Answer): string[] {
  const body = parsed(res) as Record<string, unknown> | undefined;
  const problems: string[] = [];
  if (res.headers['content-type'] !== PROBLEM_TYPE) problems.push(`not ${PROBLEM_TYPE}`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [...problems, 'body is not a JSON object'];
  if (!PROBLEM_TYPES.includes(body.type as string)) problems.push(`type ${JSON.stringify(body.type)} is not a SPEC §2 type`);
  if (typeof body.title !== 'string' || !/\S/.test(body.title)) problems.push('no title');
  if (body.status !== res.status) problems.push(`status ${JSON.stringify(body.status)} in the body`);
  if (body.request_id !== res.headers['x-request-id']) problems.push('request_id is not the X-Request-Id');
  if (body.invalid_fields !== undefined && !Array.isArray(body.invalid_fields)) problems.push('invalid_fields is not an array');
  const extra = Object.keys(body).filter((k) => !['type', 'title', 'status', 'request_id', 'invalid_fields'].includes(k));
  if (extra.length) problems.push(`unexpected keys ${extra.join(', ')}`);
  return problems;
}

/** What is wrong with an answer for its family: empty when it is a success, a redirect, or a well-formed refusal. */
export function answerProblems(res: Answer, family: Family): string[] {
  if (res.status >= 500) return [`a server error (${res.status})`];
  if (!res.headers['x-request-id']) return ['no X-Request-Id (SPEC §2)'];
  if (res.status >= 300 && res.status < 400) return res.headers.location ? [] : ['a redirect without a Location'];
  if (res.status < 400) return [];
  switch (family) {
    case 'oauth':
      return oauthProblems(res);
    case 'problem':
      return problemProblems(res);
    case 'discovery': {
      const json = oauthProblems(res);
      const problem = problemProblems(res);
      return json.length && problem.length ? [`neither RFC 6749 JSON (${json.join(', ')}) nor problem+json (${problem.join(', ')})`] : [];
    }
    case 'page':
      return /^text\/html\b/.test(res.headers['content-type'] ?? '') ? [] : ['not an HTML error page'];
  }
}

/** The warnings and errors the app logged for one request, with the exception and where it was thrown. */
export function serverLogFor(t: TestApp, requestId: string | undefined): string[] {
  if (!requestId) return [];
  const where = (stack: unknown) => (typeof stack === 'string' ? stack.split('\n').find((l) => /\/src\//.test(l))?.trim() ?? '' : '');
  return t.logs.entries()
    .filter((e) => (e.level as number) >= 40 && e.msg !== 'request completed')
    .filter((e) => e.requestId === requestId || (e.req as { id?: unknown } | undefined)?.id === requestId)
    .map((e) => {
      const err = e.err as { type?: string; message?: string; stack?: string } | undefined;
      return [e.msg, err && `${err.type}: ${err.message} ${where(err.stack)}`].filter(Boolean).join(': ');
    });
}

// --- Sending -----------------------------------------------------------------------------------------------------

export interface Probe {
  readonly method: 'get' | 'post' | 'patch' | 'delete';
  /** Sent as is: already percent-encoded, and broken on purpose where the property says so. */
  readonly path: string;
  readonly headers?: Record<string, string | undefined>;
  readonly body?: string | Buffer;
}

/** What came back: the status, the headers (repeated ones joined), the body as text. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | undefined>;
  readonly text: string;
}

/**
 * Sends a probe byte for byte with Node's HTTP client (supertest would serialise a Buffer body as JSON, and no
 * invalid UTF-8 would ever reach the server), and gives up after DEADLINE_MS: a hang fails the property.
 */
export function send(t: TestApp, probe: Probe): Promise<Answer> {
  const { hostname, port } = new URL(t.url);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(probe.headers ?? {})) if (value !== undefined) headers[name] = value;
  if (probe.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(probe.body));
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method: probe.method.toUpperCase(), path: probe.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        headers: Object.fromEntries(Object.entries(res.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value])),
        text: Buffer.concat(chunks).toString('utf8'),
      }));
    });
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${DEADLINE_MS} ms`)), DEADLINE_MS);
    req.on('close', () => clearTimeout(deadline));
    req.on('error', reject);
    req.end(probe.body);
  });
}

const shorten = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}… (${s.length} characters)` : s);

/** Sends a probe and throws, naming the request, the answer and the server's log lines, unless it answered well. */
export async function expectWellFormedAnswer(t: TestApp, probe: Probe, family: Family): Promise<Answer> {
  const res = await send(t, probe);
  const problems = answerProblems(res, family);
  if (problems.length) {
    const body = probe.body === undefined ? '' : ` body ${shorten(Buffer.isBuffer(probe.body) ? `<${probe.body.toString('hex')}>` : JSON.stringify(probe.body))}`;
    throw new Error([
      `${probe.method.toUpperCase()} ${shorten(probe.path)}${body} answered ${res.status} ${res.headers['content-type'] ?? '(no content type)'}: ${problems.join('; ')}`,
      `  answer: ${shorten(res.text ?? '')}`,
      ...serverLogFor(t, res.headers['x-request-id']).map((line) => `  server log: ${shorten(line, 500)}`),
    ].join('\n'));
  }
  return res;
}

// --- The database ------------------------------------------------------------------------------------------------

/** The tables a request could half-write. Rate-limit counters and the deny list change on refusals by design. */
const WATCHED_TABLES = ['orgs', 'users', 'service_accounts', 'apps', 'grants', 'authorization_codes', 'refresh_tokens', 'browser_sessions'] as const;

/**
 * Invariants that hold whatever was refused or accepted: each query answers the rows that break one. A grant with
 * neither a code nor a refresh token is consent recorded for a code that was never issued; two live tokens in one
 * refresh family are a rotation done halfway.
 */
const HALF_WRITTEN: readonly { what: string; sql: string }[] = [
  {
    what: 'a grant with neither an authorization code nor a refresh token',
    sql: `SELECT g.id FROM grants g WHERE NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.grant_id = g.id)
            AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id)`,
  },
  {
    what: 'an authorization code whose app or user is not its grant\'s',
    sql: 'SELECT c.id FROM authorization_codes c JOIN grants g ON g.id = c.grant_id WHERE c.app_id <> g.app_id OR c.user_id <> g.user_id',
  },
  {
    what: 'a refresh token whose app or user is not its grant\'s',
    sql: 'SELECT r.id FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id WHERE r.app_id <> g.app_id OR r.user_id <> g.user_id',
  },
  {
    what: 'a refresh token whose parent is in another family',
    sql: 'SELECT r.id FROM refresh_tokens r JOIN refresh_tokens p ON p.id = r.parent_id WHERE p.family_id <> r.family_id OR p.grant_id <> r.grant_id',
  },
  {
    what: 'a refresh-token family with more than one live token',
    sql: 'SELECT family_id AS id FROM refresh_tokens WHERE rotated_at IS NULL AND revoked_at IS NULL GROUP BY family_id HAVING count(*) > 1',
  },
  {
    what: 'a confidential app without a secret',
    sql: `SELECT id FROM apps WHERE token_endpoint_auth_method <> 'none' AND secret_hash IS NULL`,
  },
];

export type Snapshot = Record<string, string>;

/** One connection to a test app's database for the whole file: a snapshot per request must be cheap. */
export class Database {
  private constructor(private readonly client: Client) {}

  static async connect(url: string): Promise<Database> {
    const client = new Client({ connectionString: url });
    await client.connect();
    return new Database(client);
  }

  close(): Promise<void> {
    return this.client.end();
  }

  /** Per watched table, its row count and a digest of its rows (bookkeeping `last_used_at` left out). */
  async snapshot(): Promise<Snapshot> {
    const columns = WATCHED_TABLES.map((table) =>
      `(SELECT count(*) || ' rows, ' || md5(coalesce(string_agg((to_jsonb(r) - 'last_used_at')::text, ',' ORDER BY r.id), '')) FROM ${table} r) AS ${table}`);
    const { rows } = await this.client.query<Snapshot>(`SELECT ${columns.join(', ')}`);
    return rows[0];
  }

  /** Every broken invariant, as `what: ids`. */
  async halfWrittenRows(): Promise<string[]> {
    const found: string[] = [];
    for (const { what, sql } of HALF_WRITTEN) {
      const { rows } = await this.client.query<{ id: string }>(sql);
      if (rows.length) found.push(`${what}: ${rows.map((r) => r.id).join(', ')}`);
    }
    return found;
  }
}

/** The tables a request changed, as `table: before → after`. */
export function changedTables(before: Snapshot, after: Snapshot): string[] {
  return Object.keys(before).filter((table) => before[table] !== after[table]).map((table) => `${table}: ${before[table]} → ${after[table]}`);
}
