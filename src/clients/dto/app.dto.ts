import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { Allow } from 'class-validator';
import { PageMetaDto } from '../../common/pagination';
import type { AppEntity, ApplicationType, AppProvenance, TokenEndpointAuthMethod } from '../entities/app.entity';

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'];

const ALLOWED_RESOURCES =
  'The RFC 8707 resources (token audiences) the app may ask for: at most 20 absolute URIs without a fragment, compared as strings. ' +
  'A request naming another gets `invalid_target`, at the authorization and the token endpoint (a refresh too: narrowing the list bites on the next refresh, ' +
  'where resources no longer allowed leave the token\'s audience, and a refresh left with none of its resources is refused). ' +
  'This server itself (the issuer, the audience of a request naming no resource) is always allowed: its API is governed by the app\'s scopes. ' +
  'null or absent: no limit. Not accepted from dynamic registration.';

/**
 * Body of POST /api/v1/oauth2/apps. Its fields are checked by checkClientMetadata, the same rules as RFC 7591
 * registration; `@Allow()` only keeps them through the whitelisting pipe.
 */
export class CreateAppDto {
  @Allow() @ApiProperty({ example: 'billing-dashboard', description: 'Internal name' }) name!: string;
  @Allow() @ApiPropertyOptional({ example: 'Billing Dashboard', description: 'Shown on the consent page; defaults to name' }) display_name?: string;
  // The example is null: no uuid could name an org that exists wherever the example is tried.
  @Allow() @ApiPropertyOptional({ type: String, format: 'uuid', nullable: true, example: null, description: 'The org to join; absent or null: the default org' })
  org_id?: string | null;
  @Allow() @ApiPropertyOptional({ type: [String], example: ['https://billing.example.com/callback'], description: 'https, or http on a loopback host; no fragment' })
  redirect_uris?: string[];
  @Allow() @ApiPropertyOptional({ type: [String], example: ['authorization_code', 'refresh_token'], description: 'authorization_code, refresh_token, client_credentials' })
  grant_types?: string[];
  @Allow() @ApiPropertyOptional({ type: [String], example: ['code'] }) response_types?: string[];
  @Allow() @ApiPropertyOptional({ enum: AUTH_METHODS, default: 'client_secret_basic' }) token_endpoint_auth_method?: TokenEndpointAuthMethod;
  @Allow() @ApiPropertyOptional({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }], description: 'Allowed scopes: a space-separated string or an array', example: 'openid profile email offline_access' })
  scope?: string | string[];
  @Allow() @ApiPropertyOptional({ example: 'https://billing.example.com/logo.png' }) logo_uri?: string;
  @Allow() @ApiPropertyOptional({ example: 'https://billing.example.com' }) client_uri?: string;
  @Allow() @ApiPropertyOptional({ enum: ['web', 'native'], default: 'web' }) application_type?: ApplicationType;
  @Allow() @ApiPropertyOptional({ type: [String], nullable: true, maxItems: 20, example: ['https://billing.example.com/api'], description: ALLOWED_RESOURCES })
  allowed_resources?: string[] | null;
}

/** PATCH: a field left out keeps its value, so nothing here has a default; an app stays in its org. */
export class UpdateAppDto extends OmitType(CreateAppDto, ['name', 'org_id', 'token_endpoint_auth_method', 'application_type'] as const) {
  @Allow() @ApiPropertyOptional({ example: 'billing-dashboard' }) name?: string;
  @Allow() @ApiPropertyOptional({ enum: AUTH_METHODS, example: 'client_secret_basic', description: 'An app cannot switch between public (none) and confidential' })
  token_endpoint_auth_method?: TokenEndpointAuthMethod;
  @Allow() @ApiPropertyOptional({ enum: ['web', 'native'], example: 'web' }) application_type?: ApplicationType;
}

export class AppDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() client_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() display_name!: string;
  @ApiProperty({ enum: ['api', 'dcr', 'cimd'], description: '`cimd`: the client_id is the URL of its metadata document' }) provenance!: AppProvenance;
  @ApiProperty({ format: 'uuid' }) org_id!: string;
  @ApiProperty({ type: [String] }) redirect_uris!: string[];
  @ApiProperty({ type: [String] }) grant_types!: string[];
  @ApiProperty({ type: [String] }) response_types!: string[];
  @ApiProperty({ enum: AUTH_METHODS }) token_endpoint_auth_method!: TokenEndpointAuthMethod;
  @ApiProperty({ enum: ['web', 'native'] }) application_type!: ApplicationType;
  @ApiProperty({ type: [String], description: 'The scopes the app may request' }) scope!: string[];
  @ApiProperty({ type: String, nullable: true }) logo_uri!: string | null;
  @ApiProperty({ type: String, nullable: true }) client_uri!: string | null;
  @ApiProperty({ type: [String], nullable: true, description: ALLOWED_RESOURCES }) allowed_resources!: string[] | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) last_used_at!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When an admin reviewed this self-registered app (its provenance is `api` since)' })
  reviewed_at!: string | null;

  static from(app: AppEntity): AppDto {
    return {
      id: app.id,
      client_id: app.clientId,
      name: app.name,
      display_name: app.displayName,
      provenance: app.provenance,
      org_id: app.orgId,
      redirect_uris: app.redirectUris,
      grant_types: app.grantTypes,
      response_types: app.responseTypes,
      token_endpoint_auth_method: app.tokenEndpointAuthMethod,
      application_type: app.applicationType,
      scope: app.scopes,
      logo_uri: app.logoUri,
      client_uri: app.clientUri,
      allowed_resources: app.allowedResources,
      created_at: app.createdAt.toISOString(),
      last_used_at: app.lastUsedAt?.toISOString() ?? null,
      reviewed_at: app.reviewedAt?.toISOString() ?? null,
    };
  }
}

export class AppWithSecretDto extends AppDto {
  @ApiPropertyOptional({ description: 'Shown only in this response (absent for public clients): store it now' })
  client_secret?: string;
}

export class AppPageDto extends PageMetaDto {
  @ApiProperty({ type: [AppDto] }) items!: AppDto[];
}

/** RFC 7591 §2 client metadata. */
export class RegistrationRequestDto {
  @ApiProperty({ type: [String], example: ['http://127.0.0.1:33418/callback'] }) redirect_uris!: string[];
  @ApiPropertyOptional({ example: 'My MCP client' }) client_name?: string;
  @ApiPropertyOptional({ type: [String], example: ['authorization_code', 'refresh_token'] }) grant_types?: string[];
  @ApiPropertyOptional({ type: [String], example: ['code'] }) response_types?: string[];
  @ApiPropertyOptional({ enum: AUTH_METHODS, default: 'client_secret_basic' }) token_endpoint_auth_method?: string;
  @ApiPropertyOptional({ example: 'openid profile offline_access' }) scope?: string;
  @ApiPropertyOptional() logo_uri?: string;
  @ApiPropertyOptional() client_uri?: string;
  @ApiPropertyOptional({ enum: ['web', 'native'], default: 'web' }) application_type?: string;
}

/** RFC 7591 §3.2.1 client information response. */
export class RegistrationResponseDto {
  @ApiProperty() client_id!: string;
  @ApiPropertyOptional({ description: 'Absent for public clients (token_endpoint_auth_method "none")' }) client_secret?: string;
  @ApiProperty({ description: 'Seconds since the epoch; when the client was first registered, also for a public client answered again' }) client_id_issued_at!: number;
  @ApiProperty({ description: '0: the secret does not expire' }) client_secret_expires_at!: number;
  @ApiProperty() client_name!: string;
  @ApiProperty({ type: [String] }) redirect_uris!: string[];
  @ApiProperty({ type: [String] }) grant_types!: string[];
  @ApiProperty({ type: [String] }) response_types!: string[];
  @ApiProperty() token_endpoint_auth_method!: string;
  @ApiProperty() scope!: string;
  @ApiProperty() application_type!: string;
  @ApiPropertyOptional() logo_uri?: string;
  @ApiPropertyOptional() client_uri?: string;

  static from(app: AppEntity, secret: string | undefined): RegistrationResponseDto {
    return {
      client_id: app.clientId,
      ...(secret ? { client_secret: secret } : {}),
      client_id_issued_at: Math.floor(app.createdAt.getTime() / 1000),
      client_secret_expires_at: 0,
      client_name: app.name,
      redirect_uris: app.redirectUris,
      grant_types: app.grantTypes,
      response_types: app.responseTypes,
      token_endpoint_auth_method: app.tokenEndpointAuthMethod,
      scope: app.scopes.join(' '),
      application_type: app.applicationType,
      ...(app.logoUri ? { logo_uri: app.logoUri } : {}),
      ...(app.clientUri ? { client_uri: app.clientUri } : {}),
    };
  }
}
