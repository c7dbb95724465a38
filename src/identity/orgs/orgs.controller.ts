import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PageQueryDto } from '../../common/pagination';
import { AdminOnly } from '../auth/auth.decorators';
import { CreateOrgDto, OrgDto, OrgPageDto, UpdateOrgDto } from './dto/org.dto';
import { OrgsService } from './orgs.service';

@ApiTags('orgs')
@AdminOnly()
@Controller('api/v1/orgs')
export class OrgsController {
  constructor(private readonly orgs: OrgsService) {}

  @Post()
  @ApiOperation({ summary: 'Create an org' })
  @ApiCreatedResponse({ type: OrgDto })
  @ApiConflictResponse({ description: 'The name is taken' })
  create(@Body() body: CreateOrgDto): Promise<OrgDto> {
    return this.orgs.create(body);
  }

  @Get()
  @ApiOperation({ summary: 'List orgs' })
  @ApiOkResponse({ type: OrgPageDto })
  list(@Query() query: PageQueryDto): Promise<OrgPageDto> {
    return this.orgs.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get an org' })
  @ApiOkResponse({ type: OrgDto })
  @ApiNotFoundResponse()
  get(@Param('id') id: string): Promise<OrgDto> {
    return this.orgs.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change an org' })
  @ApiOkResponse({ type: OrgDto })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'The name is taken' })
  update(@Param('id') id: string, @Body() body: UpdateOrgDto): Promise<OrgDto> {
    return this.orgs.update(id, body);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete an org', description: '409 while users, service accounts or apps still belong to it.' })
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'The org still has members or apps' })
  remove(@Param('id') id: string): Promise<void> {
    return this.orgs.remove(id);
  }
}
