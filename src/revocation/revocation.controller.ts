import { Body, Controller, Header, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiConsumes, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { AuthenticatedClient } from '../clients/authentication/client-authentication.service';
import { ClientAuthGuard, CurrentClient } from '../clients/authentication/client-auth.guard';
import { ProtocolEndpoint } from '../identity/auth/protocol-endpoint.decorator';
import { IntrospectionResponseDto, TokenActionDto } from './dto/token-action.dto';
import { RevocationService } from './revocation.service';

@ApiTags('oauth2')
@ProtocolEndpoint()
@UseGuards(ClientAuthGuard)
@Controller('oauth2')
export class RevocationController {
  constructor(private readonly revocation: RevocationService) {}

  @Post('revoke')
  @ApiOperation({ summary: 'Revoke a token (RFC 7009)', description: 'Client-authenticated. 200 also for an unknown token or another client\'s (nothing is revoked then). A refresh token revokes its whole family.' })
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiOkResponse({ description: 'Revoked, or nothing to revoke (RFC 7009 §2.2)' })
  @ApiUnauthorizedResponse({ description: 'invalid_client' })
  revoke(@CurrentClient() client: AuthenticatedClient, @Body() body: TokenActionDto): Promise<void> {
    return this.revocation.revoke(client, body);
  }

  @Post('introspect')
  @ApiOperation({ summary: 'Introspect a token (RFC 7662)', description: 'Client-authenticated. `{active: false}` for anything that is not a valid token.' })
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiOkResponse({ type: IntrospectionResponseDto })
  @ApiUnauthorizedResponse({ description: 'invalid_client' })
  introspect(@CurrentClient() client: AuthenticatedClient, @Body() body: TokenActionDto): Promise<IntrospectionResponseDto> {
    return this.revocation.introspect(client, body);
  }
}
