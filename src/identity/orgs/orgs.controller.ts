import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
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
  @ApiCreatedResponse({ type: OrgDto })
  @ApiConflictResponse({ description: 'The name is taken' })
  create(@Body() body: CreateOrgDto): Promise<OrgDto> {
    return this.orgs.create(body);
  }

  @Get()
  @ApiOkResponse({ type: OrgPageDto })
  list(@Query() query: PageQueryDto): Promise<OrgPageDto> {
    return this.orgs.list(query);
  }

  @Get(':id')
  @ApiOkResponse({ type: OrgDto })
  @ApiNotFoundResponse()
  get(@Param('id') id: string): Promise<OrgDto> {
    return this.orgs.get(id);
  }

  @Patch(':id')
  @ApiOkResponse({ type: OrgDto })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'The name is taken' })
  update(@Param('id') id: string, @Body() body: UpdateOrgDto): Promise<OrgDto> {
    return this.orgs.update(id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'The org still has members or apps' })
  remove(@Param('id') id: string): Promise<void> {
    return this.orgs.remove(id);
  }
}
