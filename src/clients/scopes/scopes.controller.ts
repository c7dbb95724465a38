import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ProtocolEndpoint } from '../../identity/auth/protocol-endpoint.decorator';
import { ScopesService } from './scopes.service';

class ScopeDto {
  @ApiProperty({ example: 'openid' }) name!: string;
  @ApiProperty({ example: 'Sign you in and know your user id' }) description!: string;
}

class ScopeListDto {
  @ApiProperty({ type: [ScopeDto] }) scopes!: ScopeDto[];
}

@ApiTags('oauth2')
@ProtocolEndpoint()
@Controller('oauth2/scopes')
export class ScopesController {
  constructor(private readonly scopes: ScopesService) {}

  /** Every scope a client may request, with the description shown on the consent page. */
  @Get()
  @ApiOperation({ summary: 'List the scopes', description: 'Every scope a client may request, with the description shown on the consent page.' })
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOkResponse({ type: ScopeListDto })
  list(): ScopeListDto {
    return { scopes: this.scopes.list().map(({ name, description }) => ({ name, description })) };
  }
}
