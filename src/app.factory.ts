import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import cookieParser from 'cookie-parser';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { join } from 'node:path';
import { AppModule, AppModuleOptions } from './app.module';
import { protocolCors } from './common/http/cors';
import { PublishedDocument, servePublishedDocuments } from './common/http/published-documents';
import { DiscoveryService } from './discovery/discovery.service';
import { SigningKeysService } from './token/signing-keys.service';
import { requestIdMiddleware } from './common/http/request-id.middleware';
import { Shutdown } from './health/shutdown';
import { Metrics } from './common/metrics/metrics';
import { createValidationPipe } from './common/http/request-validation';
import { inputGuard } from './common/http/input-guard';
import { PROJECT_ROOT } from './common/paths';
import { buildOpenApiDocument } from './openapi/openapi';
import { auditScopeMiddleware } from './identity/audit/audit-context';

/** Bodies larger than this are refused with 413: no endpoint needs more, and it bounds what a caller can make us parse. */
export const BODY_LIMIT = '100kb';

/**
 * Builds the whole application — the one code path used by `main.ts`, the tests and the benchmarks — without
 * listening. Express middleware order matters: request id first (so every answer carries it), then security
 * headers, then the body parsers whose errors the global filter formats, then the audit scope.
 */
export async function createApp(options: AppModuleOptions & { preview?: boolean }): Promise<NestExpressApplication> {
  const https = options.config.authorizationServer.issuerUrl.startsWith('https:');
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(options), {
    // Preview: the module graph without instantiating providers (no database) — enough to generate openapi.json.
    preview: options.preview,
    bufferLogs: true,
    bodyParser: false,
    abortOnError: false,
    forceCloseConnections: true,
  });
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  app.set('trust proxy', options.config.trustProxy);
  // First of all: while draining, every response (errors too) closes its keep-alive connection.
  if (!options.preview) app.use(app.get(Shutdown).track);
  // Then the request counts and latencies (/metrics), which must see every answer, errors and prebuilt ones too.
  if (!options.preview && options.config.metrics.enabled) app.use(app.get(Metrics).http);
  app.use(requestIdMiddleware);
  app.use(
    helmet({
      // Our pages must never be framed (clickjacking of the consent and login forms, SPEC §7).
      contentSecurityPolicy: {
        // No form-action: browsers apply it to the redirects after a form POST, and the consent form must be
        // able to send the user on to the client's redirect URI.
        directives: { 'frame-ancestors': ["'none'"], 'form-action': null, 'img-src': ["'self'", 'data:', 'https:'], 'upgrade-insecure-requests': https ? [] : null },
      },
      frameguard: { action: 'deny' },
      hsts: https,
      referrerPolicy: { policy: 'no-referrer' },
    }),
  );
  app.use(protocolCors);
  // With the authorization server disabled, the protocol routes answer 404 (ProtocolEndpoint) and nothing is published.
  // In preview (`npm run openapi`) no provider is constructed, so there is nothing to publish either.
  if (options.config.authorizationServer.enabled && !options.preview) app.use(servePublishedDocuments(publishedDocuments(app)));
  app.useBodyParser('json', { limit: BODY_LIMIT });
  app.useBodyParser('urlencoded', { limit: BODY_LIMIT, extended: false });
  app.use(cookieParser());
  // After the parsers, before any route reads the request: NUL bytes, lone surrogates, deep JSON (SPEC §7).
  app.use(inputGuard);
  // The audit trail's request id, source address and (once authenticated) actor, for everything the request does.
  app.use(auditScopeMiddleware);
  app.useStaticAssets(join(PROJECT_ROOT, 'views', 'assets'), { prefix: '/assets/', maxAge: '1h', index: false });
  app.setBaseViewsDir(join(PROJECT_ROOT, 'views'));
  app.setViewEngine('hbs');
  app.useGlobalPipes(createValidationPipe());

  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs/openapi.json',
    customSiteTitle: 'Portcullis API',
    // A bearer token pasted under Authorize survives a reload (Swagger UI keeps it in localStorage).
    swaggerOptions: { persistAuthorization: true },
  });
  return app;
}

/** Discovery metadata (fixed by configuration) and the JWKS (rebuilt when the keys change), by path. */
function publishedDocuments(app: NestExpressApplication): Map<string, () => PublishedDocument> {
  const keys = app.get(SigningKeysService);
  const documents = new Map<string, () => PublishedDocument>([['/oauth2/jwks', () => keys.jwksDocument()]]);
  for (const [path, document] of app.get(DiscoveryService).published()) documents.set(path, () => document);
  return documents;
}
