import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

/**
 * The tags in the order an admin works through them — register apps, add users and service accounts, sort them
 * into orgs, rotate keys, read the audit trail — then the protocol and health. Swagger UI lists the tags in this order (it follows the
 * document's `tags` array when no `tagsSorter` is set); a test checks both.
 */
export const OPENAPI_TAGS: readonly { readonly name: string; readonly description: string }[] = [
  { name: 'apps', description: 'Applications (OAuth clients): register them, change their metadata, rotate their secrets, review self-registered ones. A secret is shown once.' },
  { name: 'users', description: 'People who sign in, with their role: `admin` or `user`. A new password or a demotion ends what the user holds.' },
  { name: 'service-accounts', description: 'Callers that are not people: each has a role and one bearer token, shown once at creation.' },
  { name: 'orgs', description: 'Organisations that users, service accounts and apps belong to; unnamed ones join the default org.' },
  { name: 'keys', description: 'The ES256 keys that sign access and ID tokens.' },
  { name: 'audit', description: 'The audit trail: security events (sign-ins, consents, revocations, detected token reuse, changes to apps, users and keys, minted tokens), filtered and paged. Never a secret.' },
  { name: 'me', description: "The caller's own authorizations, app sessions and audit events (an access token needs scope `account`)." },
  { name: 'tokens', description: 'Tokens for the caller itself, and delegated tokens for a user (admin).' },
  { name: 'oauth2', description: 'The OAuth 2.1 protocol, as client applications use it: token, revocation, introspection, registration (RFC 7591), userinfo, keys and scopes. Errors are RFC 6749 JSON.' },
  { name: 'discovery', description: 'Authorization server metadata (RFC 8414) and OpenID Connect discovery.' },
  { name: 'health', description: 'Liveness and readiness probes.' },
];

/**
 * The OpenAPI document, generated from the controllers' decorators. `/docs` serves it and `npm run openapi`
 * writes it to openapi.json; a test keeps the two equal. It names no server, so it does not depend on the port.
 *
 * No cookie scheme: Swagger UI cannot set the HttpOnly `session_id` cookie, but a browser that signed in at
 * /login sends it with Swagger UI's same-origin requests by itself, which the authentication guard accepts.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('Portcullis')
    .setDescription(
      'OAuth 2.1 Authorization Server. Protocol endpoints answer RFC 6749 errors; `/api` endpoints answer ' +
        'RFC 7807 `application/problem+json`.\n\n' +
        '**Calling the API from this page.** Sign in at [/login](/login?return_to=%2Fdocs) in this browser: Swagger UI\'s requests ' +
        'then carry your session, and "Try it out" works with nothing entered under Authorize. Or choose ' +
        'Authorize and paste a bearer token: an access token of this server (scope `admin` for the admin ' +
        'routes, `account` for your own) or a service-account token. It is kept across reloads of this page.',
    )
    .setVersion('0.1.0')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description:
          'An access token of this server (scope `admin` for the admin routes, `account` for your own) or a ' +
          'service-account token. Signed in at /login in this browser? Then you need none: your session is sent.',
      },
      'bearer',
    );
  for (const tag of OPENAPI_TAGS) builder.addTag(tag.name, tag.description);
  return SwaggerModule.createDocument(app, builder.build(), { operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}` });
}

/** Stable JSON: the same document always serialises to the same bytes. */
export function serialiseOpenApi(document: OpenAPIObject): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
