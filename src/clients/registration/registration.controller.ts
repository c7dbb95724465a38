import { Body, Controller, Header, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiCreatedResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { ProtocolEndpoint } from '../../identity/auth/protocol-endpoint.decorator';
import { AppsService } from '../apps.service';
import { RegistrationRequestDto, RegistrationResponseDto } from '../dto/app.dto';
import { RegistrationGuard, SourceAddress } from './registration.guard';

@ApiTags('oauth2')
@ProtocolEndpoint()
@Controller('oauth2/register')
export class RegistrationController {
  constructor(private readonly apps: AppsService) {}

  /** RFC 7591 dynamic client registration (only while OAUTH2_DCR_ENABLED). */
  @Post()
  @ApiOperation({ summary: 'Register a client (RFC 7591)', description: 'Only while OAUTH2_DCR_ENABLED; rate-limited per source address. The app lands in the default org with provenance `dcr`; it is never granted `account` or `admin`. A public client (`none`) registering again from the same address with the same metadata within OAUTH2_DCR_REUSE_WINDOW is answered the client it registered then; a confidential one always gets a new client. A client removed as unused gets 401 `invalid_client` and registers again.' })
  @HttpCode(201)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  @UseGuards(RegistrationGuard)
  @ApiBody({ type: RegistrationRequestDto })
  @ApiCreatedResponse({ type: RegistrationResponseDto })
  @ApiBadRequestResponse({ description: 'invalid_redirect_uri or invalid_client_metadata (RFC 7591 §3.2.2)' })
  @ApiTooManyRequestsResponse({ description: 'Too many registrations from this address' })
  register(@Body() body: unknown, @SourceAddress() source: string): Promise<RegistrationResponseDto> {
    return this.apps.registerSelf(body, source);
  }
}
