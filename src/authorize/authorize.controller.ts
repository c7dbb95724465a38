import { Body, Controller, Get, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { pageRequest, sendPage } from '../common/pages/page-result';
import { Authenticated, CurrentPrincipal } from '../identity/auth/auth.decorators';
import type { Principal } from '../identity/auth/principal';
import { ProtocolEndpoint } from '../identity/auth/protocol-endpoint.decorator';
import { AuthorizeParams, AuthorizeService } from './authorize.service';
import { JsonAuthorizeDto, JsonAuthorizeResponseDto } from './dto/json-authorize.dto';

/** The browser side of the authorization endpoint: pages and redirects, never JSON, never CORS. */
@ApiTags('oauth2')
@ProtocolEndpoint()
@Controller('oauth2/authorize')
export class AuthorizeController {
  constructor(private readonly authorize: AuthorizeService) {}

  @Get()
  @ApiExcludeEndpoint()
  async start(@Query() query: AuthorizeParams, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendPage(res, await this.authorize.start(query, pageRequest(req)));
  }

  @Post()
  @ApiExcludeEndpoint()
  async decide(@Body() body: AuthorizeParams, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendPage(res, await this.authorize.decide(body ?? {}, pageRequest(req)));
  }
}

@ApiTags('oauth2')
@Controller('api/v1/oauth2/authorize')
export class JsonAuthorizeController {
  constructor(private readonly authorize: AuthorizeService) {}

  @Post()
  @HttpCode(200)
  // The server's own consent UI (SPEC §2): an app's access token, whatever its scopes, must never approve an app.
  @Authenticated({ via: ['session', 'service_account_token'] })
  @ApiOperation({ summary: 'Approve an app for the signed-in user', description: 'For the server\'s own single-page consent UI: a browser session, never an app\'s access token. Answers the client\'s redirect URI carrying the code, `state` and `iss`.' })
  @ApiOkResponse({ type: JsonAuthorizeResponseDto })
  authorizeJson(@Body() body: JsonAuthorizeDto, @CurrentPrincipal() principal: Principal): Promise<JsonAuthorizeResponseDto> {
    return this.authorize.authorizeJson(body, principal);
  }
}
