import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

/**
 * The OpenAPI document, generated from the controllers' decorators. `/docs` serves it and `npm run openapi`
 * writes it to openapi.json; a test keeps the two equal. It names no server, so it does not depend on the port.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Portcullis')
    .setDescription(
      'OAuth 2.1 Authorization Server. Protocol endpoints answer RFC 6749 errors; `/api` endpoints answer ' +
        'RFC 7807 `application/problem+json`.',
    )
    .setVersion('0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An access token of this server or a service-account token' }, 'bearer')
    .addCookieAuth('session_id', { type: 'apiKey', in: 'cookie', name: 'session_id' }, 'session')
    .build();
  return SwaggerModule.createDocument(app, config, { operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}` });
}

/** Stable JSON: the same document always serialises to the same bytes. */
export function serialiseOpenApi(document: OpenAPIObject): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
