import { Body, Controller, Get, Header, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly, Authenticated, CurrentPrincipal } from '../identity/auth/auth.decorators';
import type { Principal } from '../identity/auth/principal';
import { DelegatedTokenRequestDto } from './dto/principal-token.dto';
import { TokenResponseDto } from './dto/token.dto';
import { PrincipalTokensService } from './principal-tokens.service';

@ApiTags('tokens')
@Controller('api/v1/oauth2')
export class PrincipalTokensController {
  constructor(private readonly tokens: PrincipalTokensService) {}

  @Get('principal-token')
  @ApiOperation({ summary: 'Get a token for yourself', description: 'Bound to the credential you call with: it never outlives it, never carries more scopes, and dies when it is revoked. A principal token cannot mint another.' })
  @Authenticated({ scope: 'account' })
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: TokenResponseDto, description: 'A token for the caller, with every scope its role allows' })
  principalToken(@CurrentPrincipal() principal: Principal): Promise<TokenResponseDto> {
    return this.tokens.principalToken(principal);
  }

  @Post('delegated-token')
  @ApiOperation({ summary: 'Issue a token for a user', description: 'The JWT names you in its `act` claim (RFC 8693). `scopes` default to, and may not exceed, what the user could be granted.' })
  @HttpCode(200)
  @AdminOnly()
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: TokenResponseDto, description: 'A token for `sub`; its `act` claim names the caller (RFC 8693)' })
  delegatedToken(@CurrentPrincipal() principal: Principal, @Body() body: DelegatedTokenRequestDto): Promise<TokenResponseDto> {
    return this.tokens.delegatedToken(principal, body);
  }
}
