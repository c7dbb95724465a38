import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEventEntity } from './audit/audit-event.entity';
import { AuditEventsController, MyAuditEventsController } from './audit/audit-events.controller';
import { AuditEventsService } from './audit/audit-events.service';
import { AuditTrail } from './audit/audit-trail.service';
import { AuthenticationGuard } from './auth/authentication.guard';
import { BearerTokenRegistry } from './auth/bearer-token-registry';
import { BearerAuthenticator } from './auth/bearer.strategy';
import { BootstrapAdminService } from './bootstrap/bootstrap-admin.service';
import { BrowserSessionEntity } from './entities/browser-session.entity';
import { OrgEntity } from './entities/org.entity';
import { ServiceAccountEntity } from './entities/service-account.entity';
import { UserEntity } from './entities/user.entity';
import { LoginController } from './login/login.controller';
import { LoginService } from './login/login.service';
import { SignInPurposes } from './login/sign-in-purposes';
import { OrgsController } from './orgs/orgs.controller';
import { OrgsService } from './orgs/orgs.service';
import { ServiceAccountsController } from './service-accounts/service-accounts.controller';
import { ServiceAccountsService } from './service-accounts/service-accounts.service';
import { BrowserSessionsService } from './sessions/browser-sessions.service';
import { UsersController } from './users/users.controller';
import { UsersService } from './users/users.service';
import { UserCredentialHooks } from './users/user-credential-hooks';

/**
 * Who is who: users, orgs, service accounts, browser sessions, sign-in, and the guard every route passes; and the
 * audit trail, which every module above records its security events in.
 */
@Module({
  imports: [TypeOrmModule.forFeature([OrgEntity, UserEntity, BrowserSessionEntity, ServiceAccountEntity, AuditEventEntity])],
  controllers: [LoginController, UsersController, OrgsController, ServiceAccountsController, AuditEventsController, MyAuditEventsController],
  providers: [
    AuditTrail,
    AuditEventsService,
    OrgsService,
    UsersService,
    ServiceAccountsService,
    BrowserSessionsService,
    LoginService,
    SignInPurposes,
    BootstrapAdminService,
    BearerTokenRegistry,
    UserCredentialHooks,
    BearerAuthenticator,
    { provide: APP_GUARD, useClass: AuthenticationGuard },
  ],
  exports: [OrgsService, UsersService, BrowserSessionsService, BearerTokenRegistry, UserCredentialHooks, SignInPurposes, AuditTrail, AuditEventsService],
})
export class IdentityModule {}
