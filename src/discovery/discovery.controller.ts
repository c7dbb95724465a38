import { Controller, Get, Header, Param } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProtocolEndpoint } from '../identity/auth/protocol-endpoint.decorator';
import { DISCOVERY_CACHE_CONTROL as CACHE, DiscoveryService, Metadata } from './discovery.service';

/**
 * RFC 8414 §3 and OpenID Connect Discovery §4. An issuer with a path (`https://host/t1`) is also served at the
 * path-inserted forms (`/.well-known/oauth-authorization-server/t1`) and at the appended form
 * (`/t1/.well-known/openid-configuration`) that OpenID clients use (SPEC §2). The exact URLs are answered from
 * prebuilt buffers ahead of routing (servePublishedDocuments, app.factory.ts); these routes answer the rest (a
 * query string, a trailing slash) with the same documents, and document them in the OpenAPI description. RFC 9728
 * metadata of this server's own API is served here too, at its one URL (the plain one, or the path-inserted one).
 */
@ApiTags('discovery')
@ProtocolEndpoint()
@Controller()
export class DiscoveryController {
  constructor(private readonly discovery: DiscoveryService) {}

  @Get('.well-known/oauth-authorization-server')
  @ApiOperation({ summary: 'Get the authorization server metadata (RFC 8414)' })
  @Header('Cache-Control', CACHE)
  @ApiOkResponse({ description: 'RFC 8414 authorization server metadata' })
  authorizationServer(): Metadata {
    return this.discovery.authorizationServerMetadata();
  }

  @Get('.well-known/openid-configuration')
  @ApiOperation({ summary: 'Get the OpenID Provider configuration' })
  @Header('Cache-Control', CACHE)
  @ApiOkResponse({ description: 'OpenID Provider metadata' })
  openIdConfiguration(): Metadata {
    return this.discovery.openIdConfiguration();
  }

  @Get('.well-known/oauth-protected-resource')
  @ApiOperation({
    summary: 'Get the protected resource metadata of this API (RFC 9728)',
    description: 'The resource is the issuer: the audience of tokens asked for no `resource`. For an issuer with a path (`https://host/t1`) it is served at `/.well-known/oauth-protected-resource/t1` instead.',
  })
  @Header('Cache-Control', CACHE)
  @ApiOkResponse({ description: 'RFC 9728 protected resource metadata' })
  protectedResource(): Metadata {
    return this.discovery.protectedResourceMetadata();
  }

  @Get('.well-known/oauth-protected-resource/*issuerPath')
  @Header('Cache-Control', CACHE)
  @ApiExcludeEndpoint()
  protectedResourceInserted(@Param('issuerPath') issuerPath: string[]): Metadata {
    return this.discovery.forIssuerPath(issuerPath, 'protected-resource');
  }

  @Get('.well-known/oauth-authorization-server/*issuerPath')
  @Header('Cache-Control', CACHE)
  @ApiExcludeEndpoint()
  authorizationServerInserted(@Param('issuerPath') issuerPath: string[]): Metadata {
    return this.discovery.forIssuerPath(issuerPath, 'oauth');
  }

  @Get('.well-known/openid-configuration/*issuerPath')
  @Header('Cache-Control', CACHE)
  @ApiExcludeEndpoint()
  openIdConfigurationInserted(@Param('issuerPath') issuerPath: string[]): Metadata {
    return this.discovery.forIssuerPath(issuerPath, 'openid');
  }

  @Get('*issuerPath/.well-known/openid-configuration')
  @Header('Cache-Control', CACHE)
  @ApiExcludeEndpoint()
  openIdConfigurationAppended(@Param('issuerPath') issuerPath: string[]): Metadata {
    return this.discovery.forIssuerPath(issuerPath, 'openid');
  }

  @Get('*issuerPath/.well-known/oauth-authorization-server')
  @Header('Cache-Control', CACHE)
  @ApiExcludeEndpoint()
  authorizationServerAppended(@Param('issuerPath') issuerPath: string[]): Metadata {
    return this.discovery.forIssuerPath(issuerPath, 'oauth');
  }
}
