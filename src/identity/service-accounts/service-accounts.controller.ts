import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PageQueryDto } from '../../common/pagination';
import { AdminOnly } from '../auth/auth.decorators';
import {
  CreatedServiceAccountDto, CreateServiceAccountDto, ServiceAccountDto, ServiceAccountPageDto, UpdateServiceAccountDto,
} from './dto/service-account.dto';
import { ServiceAccountsService } from './service-accounts.service';

@ApiTags('service-accounts')
@AdminOnly()
@Controller('api/v1/service-accounts')
export class ServiceAccountsController {
  constructor(private readonly accounts: ServiceAccountsService) {}

  @Post()
  @ApiOperation({ summary: 'Create a service account', description: 'The response holds the account\'s bearer token, shown this once only: store it now. Without `org_id` (or with null) the account joins the default org.' })
  @Header('Cache-Control', 'no-store')
  @ApiCreatedResponse({ type: CreatedServiceAccountDto, description: 'The token is shown in this response only' })
  @ApiConflictResponse({ description: 'The name is taken' })
  create(@Body() body: CreateServiceAccountDto): Promise<CreatedServiceAccountDto> {
    return this.accounts.create(body);
  }

  @Get()
  @ApiOperation({ summary: 'List service accounts' })
  @ApiOkResponse({ type: ServiceAccountPageDto })
  list(@Query() query: PageQueryDto): Promise<ServiceAccountPageDto> {
    return this.accounts.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a service account' })
  @ApiOkResponse({ type: ServiceAccountDto })
  @ApiNotFoundResponse()
  get(@Param('id') id: string): Promise<ServiceAccountDto> {
    return this.accounts.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a service account' })
  @ApiOkResponse({ type: ServiceAccountDto })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'The name is taken' })
  update(@Param('id') id: string, @Body() body: UpdateServiceAccountDto): Promise<ServiceAccountDto> {
    return this.accounts.update(id, body);
  }

  @Post(':id/revoke')
  @ApiOperation({ summary: 'Revoke a service account\'s token', description: 'The token stops working at once; the account stays, with `revoked_at` set.' })
  @HttpCode(200)
  @ApiOkResponse({ type: ServiceAccountDto, description: 'The token stops working at once' })
  @ApiNotFoundResponse()
  revoke(@Param('id') id: string): Promise<ServiceAccountDto> {
    return this.accounts.revoke(id);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete a service account' })
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  remove(@Param('id') id: string): Promise<void> {
    return this.accounts.remove(id);
  }
}
