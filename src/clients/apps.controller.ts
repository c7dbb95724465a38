import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
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
  @Header('Cache-Control', 'no-store')
  @ApiCreatedResponse({ type: AppWithSecretDto, description: 'client_secret is shown in this response only' })
  create(@Body() body: CreateAppDto): Promise<AppWithSecretDto> {
    return this.apps.create(body);
  }

  @Get()
  @ApiOkResponse({ type: AppPageDto })
  list(@Query() query: PageQueryDto): Promise<AppPageDto> {
    return this.apps.list(query);
  }

  @Get(':id')
  @ApiOkResponse({ type: AppDto })
  @ApiNotFoundResponse()
  get(@Param('id') id: string): Promise<AppDto> {
    return this.apps.get(id);
  }

  @Patch(':id')
  @ApiOkResponse({ type: AppDto })
  @ApiNotFoundResponse()
  update(@Param('id') id: string, @Body() body: UpdateAppDto): Promise<AppDto> {
    return this.apps.update(id, body);
  }

  @Post(':id/secret')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: AppWithSecretDto, description: 'The new secret, shown only now; the old one stops working at once' })
  @ApiNotFoundResponse()
  rotateSecret(@Param('id') id: string): Promise<AppWithSecretDto> {
    return this.apps.rotateSecret(id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  remove(@Param('id') id: string): Promise<void> {
    return this.apps.remove(id);
  }
}
