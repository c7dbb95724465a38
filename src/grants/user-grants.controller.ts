import { Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { forbidden } from '../common/problem/problem';
import { Authenticated, CurrentPrincipal } from '../identity/auth/auth.decorators';
import type { Principal } from '../identity/auth/principal';
import { AuthorizationListDto, OAuthSessionDto, RevokeAllDto } from './dto/user-grants.dto';
import { UserGrantsService } from './user-grants.service';

/** `/users/me` is about a user; a service account has no grants. */
function me(principal: Principal): string {
  if (principal.kind !== 'user') throw forbidden('Only a user has authorizations and sessions');
  return principal.userId;
}

@ApiTags('me')
@Authenticated({ scope: 'account' })
@Controller('api/v0/users/me/oauth2')
export class UserGrantsController {
  constructor(private readonly grants: UserGrantsService) {}

  @Get('authorizations')
  @ApiOperation({ summary: 'List the apps you authorized' })
  @ApiOkResponse({ type: AuthorizationListDto })
  authorizations(@CurrentPrincipal() principal: Principal): Promise<AuthorizationListDto> {
    return this.grants.authorizations(me(principal));
  }

  @Delete('authorizations/:id')
  @ApiOperation({ summary: 'Revoke an authorization', description: 'Revokes the grant and every token issued under it. 204 also when there is nothing of yours to revoke.' })
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Revoked, or there was nothing of yours to revoke' })
  revokeAuthorization(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<void> {
    return this.grants.revokeAuthorization(me(principal), id);
  }

  @Get('sessions')
  @ApiOperation({ summary: 'List your app sessions', description: 'Your active refresh-token families, one per signed-in app session.' })
  @ApiOkResponse({ type: [OAuthSessionDto] })
  sessions(@CurrentPrincipal() principal: Principal): Promise<OAuthSessionDto[]> {
    return this.grants.sessions(me(principal));
  }

  @Delete('sessions/:tokenId')
  @ApiOperation({ summary: 'End an app session', description: 'Revokes the refresh-token family. 404 when it is missing or not yours.' })
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ description: 'No such session of yours' })
  revokeSession(@CurrentPrincipal() principal: Principal, @Param('tokenId') tokenId: string): Promise<void> {
    return this.grants.revokeSession(me(principal), tokenId);
  }

  @Post('sessions/revoke-all')
  @ApiOperation({ summary: 'End all your app sessions' })
  @HttpCode(200)
  @ApiOkResponse({ type: RevokeAllDto })
  revokeAll(@CurrentPrincipal() principal: Principal): Promise<RevokeAllDto> {
    return this.grants.revokeAllSessions(me(principal));
  }
}
