import { Controller, Get, Header, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ProtocolEndpoint } from '../identity/auth/protocol-endpoint.decorator';
import { UserInfo, UserInfoService } from './userinfo.service';

class UserInfoDto implements UserInfo {
  @ApiProperty({ description: 'The user id' }) sub!: string;
  @ApiProperty({ description: 'When the account was created, seconds since the epoch' }) registered_at!: number;
  @ApiPropertyOptional({ description: 'With scope profile' }) name?: string;
  @ApiPropertyOptional({ description: 'With scope profile, when known' }) given_name?: string;
  @ApiPropertyOptional({ description: 'With scope profile, when known' }) family_name?: string;
  @ApiPropertyOptional({ description: 'With scope email, when known' }) email?: string;
}

@ApiTags('oauth2')
@ProtocolEndpoint()
@Controller('oauth2/userinfo')
export class UserInfoController {
  constructor(private readonly userinfo: UserInfoService) {}

  @Get()
  @ApiOperation({ summary: 'Get the user\'s claims (OpenID userinfo)', description: 'Claims by the token\'s scopes: `profile` adds the names, `email` the email.' })
  @Header('Cache-Control', 'no-store')
  @ApiBearerAuth('bearer')
  @ApiOkResponse({ type: UserInfoDto })
  @ApiUnauthorizedResponse({ description: 'invalid_token, with WWW-Authenticate' })
  get(@Headers('authorization') authorization?: string): Promise<UserInfoDto> {
    return this.userinfo.claims(authorization);
  }

  @Post()
  @ApiOperation({ summary: 'Get the user\'s claims, by POST' })
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiBearerAuth('bearer')
  @ApiOkResponse({ type: UserInfoDto })
  @ApiUnauthorizedResponse({ description: 'invalid_token, with WWW-Authenticate' })
  post(@Headers('authorization') authorization?: string): Promise<UserInfoDto> {
    return this.userinfo.claims(authorization);
  }
}
