import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly, Authenticated, CurrentPrincipal } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { AuditEventsService } from './audit-events.service';
import { AuditEventFilterDto, AuditEventPageDto, AuditEventQueryDto } from './dto/audit-event.dto';

const PAGING = 'Newest first, `limit` per page (1–200, 50 by default); pass `next_cursor` as `cursor` for the next page, until it is null. Filters combine: `from` ≤ time < `to`, and `type` takes several types, comma-separated.';

@ApiTags('audit')
@AdminOnly()
@Controller('api/v1/audit-events')
export class AuditEventsController {
  constructor(private readonly events: AuditEventsService) {}

  @Get()
  @ApiOperation({ summary: 'List audit events', description: `Security events: sign-ins, consents, revocations, detected token reuse, changes to apps, users and keys, minted tokens. ${PAGING} \`actor\` is who acted (a user's or service account's id, or a client's client_id), \`subject\` the user an event is about.` })
  @ApiOkResponse({ type: AuditEventPageDto })
  @ApiBadRequestResponse({ description: 'A filter is not valid; `invalid_fields` names it' })
  list(@Query() query: AuditEventQueryDto): Promise<AuditEventPageDto> {
    return this.events.list(query);
  }
}

@ApiTags('me')
@Authenticated({ scope: 'account' })
@Controller('api/v0/users/me/audit-events')
export class MyAuditEventsController {
  constructor(private readonly events: AuditEventsService) {}

  @Get()
  @ApiOperation({ summary: 'List your audit events', description: `The security events about you (sign-ins to your account, failed ones too, your consents and revocations, changes an admin made to your account) and those you caused. ${PAGING}` })
  @ApiOkResponse({ type: AuditEventPageDto })
  @ApiBadRequestResponse({ description: 'A filter is not valid; `invalid_fields` names it' })
  list(@CurrentPrincipal() principal: Principal, @Query() query: AuditEventFilterDto): Promise<AuditEventPageDto> {
    return this.events.listMine(principal, query);
  }
}
