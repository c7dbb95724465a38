import { Body, Controller, Header, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBadRequestResponse, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { AuthenticatedClient } from '../clients/authentication/client-authentication.service';
import { ClientAuthGuard, CurrentClient } from '../clients/authentication/client-auth.guard';
import { ProtocolEndpoint } from '../identity/auth/protocol-endpoint.decorator';
import { TokenRequestDto, TokenResponseDto } from './dto/token.dto';
import { TokenService } from './token.service';

@ApiTags('oauth2')
@ProtocolEndpoint()
@Controller('oauth2/token')
export class TokenController {
  constructor(private readonly tokens: TokenService) {}

  @Post()
  @ApiOperation({ summary: 'Exchange a grant for tokens', description: 'authorization_code (with PKCE), refresh_token (rotated on every use) or client_credentials. Form-encoded or JSON.' })
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  @UseGuards(ClientAuthGuard)
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiOkResponse({ type: TokenResponseDto })
  @ApiBadRequestResponse({ description: 'RFC 6749 §5.2 error' })
  @ApiUnauthorizedResponse({ description: 'invalid_client' })
  issueToken(@CurrentClient() client: AuthenticatedClient, @Body() body: TokenRequestDto): Promise<TokenResponseDto> {
    return this.tokens.issue(client, body);
  }
}
