import type { OpenAPIObject } from '@nestjs/swagger';

type Schema = Record<string, unknown>;

export interface ApiOperation {
  readonly method: string;
  readonly path: string;
  readonly operation: Record<string, any>;
}

/** Every operation of the document, in its order. */
export function operationsOf(document: OpenAPIObject): ApiOperation[] {
  const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item as Record<string, any>)
      .filter(([method]) => methods.includes(method))
      .map(([method, operation]) => ({ method, path, operation })),
  );
}

/**
 * The JSON bodies Swagger UI offers for an operation, as "Try it out" fills them in: each of the media type's
 * `examples`, or its `example`, or else a sample of the schema. Undefined without a JSON request body.
 */
export function requestBodySamples(document: OpenAPIObject, { operation }: ApiOperation): unknown[] | undefined {
  const body = resolve(document, operation.requestBody) as Schema | undefined;
  const media = (body?.content as Record<string, Schema> | undefined)?.['application/json'];
  if (!media) return undefined;
  if (media.examples) return Object.values(media.examples as Record<string, Schema>).map((e) => (resolve(document, e) as Schema).value);
  if (media.example !== undefined) return [media.example];
  return [sampleOf(document, media.schema as Schema)];
}

/**
 * Swagger UI's sample of a request schema (swagger-ui 5, OpenAPI 3.0, `includeWriteOnly`): a property's `example`,
 * else its `default`, else the first `enum` value, else a placeholder by type and format ("string", 0, the
 * well-known uuid …) fitted to minLength/maxLength and minimum/maximum. Every property is included, required or
 * not, except read-only and deprecated ones. What Swagger UI does not do here is refused rather than guessed, so
 * a new kind of schema makes the test say so; the browser test checks that Swagger UI fills in the same bodies.
 */
export function sampleOf(document: OpenAPIObject, schemaOrRef: Schema): unknown {
  const schema = resolve(document, schemaOrRef) as Schema;
  const type = schema.type as string | undefined;
  for (const given of [schema.example, schema.default]) {
    if (given === undefined) continue;
    if (typeof given !== 'string' || type === 'string') return given;
    try {
      return JSON.parse(given); // Swagger UI reads a string example of a non-string schema as JSON where it can
    } catch {
      return given;
    }
  }
  if (schema.allOf || schema.pattern || schema.additionalProperties) throw new Error(`sampleOf: unsupported schema ${JSON.stringify(schema)}`);
  const choice = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined;
  if (choice?.length) {
    const { oneOf: _o, anyOf: _a, ...rest } = schema;
    return sampleOf(document, { ...(resolve(document, choice[0]) as Schema), ...rest });
  }
  if (type === 'object' || schema.properties) {
    return Object.fromEntries(
      Object.entries((schema.properties ?? {}) as Record<string, Schema>)
        .filter(([, p]) => !p.readOnly && !p.deprecated)
        .map(([name, p]) => [name, sampleOf(document, p)]),
    );
  }
  if (type === 'array' || schema.items) return [sampleOf(document, schema.items as Schema)];
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (type === 'number' || type === 'integer') {
    let n = 0;
    if (typeof schema.minimum === 'number') n = schema.exclusiveMinimum ? schema.minimum + 1 : schema.minimum;
    if (typeof schema.maximum === 'number') n = schema.exclusiveMaximum ? schema.maximum - 1 : schema.maximum;
    return n;
  }
  if (type === 'boolean') return typeof schema.default === 'boolean' ? schema.default : true;
  if (type === 'string' || type === undefined) {
    let s = STRING_FORMATS[schema.format as string]?.() ?? 'string';
    if (typeof schema.maxLength === 'number') s = s.slice(0, schema.maxLength);
    for (let i = 0; typeof schema.minLength === 'number' && s.length < schema.minLength; i++) s += s[i];
    return s;
  }
  throw new Error(`sampleOf: unsupported schema ${JSON.stringify(schema)}`);
}

const STRING_FORMATS: Record<string, () => string> = {
  email: () => 'user@example.com',
  uuid: () => '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  'date-time': () => new Date().toISOString(),
  date: () => new Date().toISOString().slice(0, 10),
  hostname: () => 'example.com',
  ipv4: () => '198.51.100.42',
  ipv6: () => '2001:0db8:5b96:0000:0000:426f:8e17:642a',
};

function resolve(document: OpenAPIObject, value: unknown): unknown {
  let current = value as Schema | undefined;
  while (current && typeof current.$ref === 'string') {
    current = (current.$ref as string).replace(/^#\//, '').split('/').reduce<any>((node, key) => node?.[key], document);
    if (!current) throw new Error(`unresolved $ref ${String(value)}`);
  }
  return current;
}
