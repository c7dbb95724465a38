import { Body, Controller, Get, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { pageRequest, sendPage } from '../../common/pages/page-result';
import { Public } from '../auth/auth.decorators';
import { LoginForm, LoginService } from './login.service';

/**
 * The browser pages of sign-in: HTML forms, not API, so they stay out of the OpenAPI document. A POST whose body
 * was not a form (no body, text/plain) arrives as undefined and is read as an empty form.
 */
@ApiExcludeController()
@Public()
@Controller()
export class LoginController {
  constructor(private readonly login: LoginService) {}

  @Get('login')
  async form(@Query('return_to') returnTo: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendPage(res, await this.login.showForm(returnTo, pageRequest(req)));
  }

  @Post('login')
  async submit(@Body() form: LoginForm = {}, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendPage(res, await this.login.submit(form, pageRequest(req)));
  }

  @Post('logout')
  async logout(@Body() form: { csrf_token?: unknown } = {}, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendPage(res, await this.login.logout(form, req.cookies));
  }

  @Get()
  async home(@Req() req: Request, @Res() res: Response): Promise<void> {
    sendPage(res, await this.login.home(req.cookies));
  }
}
