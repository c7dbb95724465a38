import { Body, Controller, Get, Header, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
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
  @Authenticated({ scope: 'account' })
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: TokenResponseDto, description: 'A token for the caller, with every scope its role allows' })
  principalToken(@CurrentPrincipal() principal: Principal): Promise<TokenResponseDto> {
    return this.tokens.principalToken(principal);
  }

  @Post('delegated-token')
  @HttpCode(200)
  @AdminOnly()
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: TokenResponseDto, description: 'A token for `sub`; its `act` claim names the caller (RFC 8693)' })
  delegatedToken(@CurrentPrincipal() principal: Principal, @Body() body: DelegatedTokenRequestDto): Promise<TokenResponseDto> {
    return this.tokens.delegatedToken(principal, body);
  }
}
