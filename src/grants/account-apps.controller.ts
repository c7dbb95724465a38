import { Body, Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { pageRequest, sendPage } from '../common/pages/page-result';
import { Public } from '../identity/auth/auth.decorators';
import { AccountAppsService } from './account-apps.service';

/** Server-rendered pages: they check the browser session themselves and send a visitor to sign in. */
@ApiExcludeController()
@Public()
@Controller('account/apps')
export class AccountAppsController {
  constructor(private readonly pages: AccountAppsService) {}

  @Get()
  async list(@Query('revoked') revoked: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendPage(res, await this.pages.page(pageRequest(req), revoked));
  }

  @Get(':grantId/revoke')
  async confirm(@Param('grantId') grantId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendPage(res, await this.pages.confirm(grantId, pageRequest(req)));
  }

  @Post(':grantId/revoke')
  async revoke(@Param('grantId') grantId: string, @Body() form: { csrf_token?: unknown } = {}, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendPage(res, await this.pages.revoke(grantId, form, pageRequest(req)));
  }
}
