import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PageQueryDto } from '../common/pagination';
import { AdminOnly } from '../identity/auth/auth.decorators';
import { AppsService } from './apps.service';
import { AppDto, AppPageDto, AppWithSecretDto, CreateAppDto, UpdateAppDto } from './dto/app.dto';

@ApiTags('apps')
@AdminOnly()
@Controller('api/v1/oauth2/apps')
export class AppsController {
  constructor(private readonly apps: AppsService) {}

  @Post()
  @ApiOperation({ summary: 'Register an app', description: 'Manual registration (provenance `api`), checked by the rules of RFC 7591 registration. `client_secret` is in this response only: store it now (a public client, `token_endpoint_auth_method: none`, has none). Without `org_id` (or with null) the app joins the default org.' })
  @Header('Cache-Control', 'no-store')
  @ApiCreatedResponse({ type: AppWithSecretDto, description: 'client_secret is shown in this response only' })
  create(@Body() body: CreateAppDto): Promise<AppWithSecretDto> {
    return this.apps.create(body);
  }

  @Get()
  @ApiOperation({ summary: 'List apps' })
  @ApiOkResponse({ type: AppPageDto })
  list(@Query() query: PageQueryDto): Promise<AppPageDto> {
    return this.apps.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get an app' })
  @ApiOkResponse({ type: AppDto })
  @ApiNotFoundResponse()
  get(@Param('id') id: string): Promise<AppDto> {
    return this.apps.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change an app', description: 'Only the fields sent change; the result is checked as a whole, as if the app registered again. An app cannot switch between public and confidential.' })
  @ApiOkResponse({ type: AppDto })
  @ApiNotFoundResponse()
  update(@Param('id') id: string, @Body() body: UpdateAppDto): Promise<AppDto> {
    return this.apps.update(id, body);
  }

  @Post(':id/secret')
  @ApiOperation({ summary: 'Rotate an app\'s secret', description: 'The new secret is in this response only; the old one stops working at once.' })
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: AppWithSecretDto, description: 'The new secret, shown only now; the old one stops working at once' })
  @ApiNotFoundResponse()
  rotateSecret(@Param('id') id: string): Promise<AppWithSecretDto> {
    return this.apps.rotateSecret(id);
  }

  @Post(':id/review')
  @ApiOperation({ summary: 'Mark a self-registered app as reviewed', description: 'The app becomes one of the organisation\'s (provenance `api`): shown without the self-registered warning and never removed as idle. Its scopes and grant types stay as registered; widen them with PATCH.' })
  @HttpCode(200)
  @ApiOkResponse({ type: AppDto, description: 'The app, now one of the organisation\'s (provenance `api`)' })
  @ApiNotFoundResponse()
  review(@Param('id') id: string): Promise<AppDto> {
    return this.apps.review(id);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete an app', description: 'Its grants, codes and tokens die with it.' })
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  remove(@Param('id') id: string): Promise<void> {
    return this.apps.remove(id);
  }
}
