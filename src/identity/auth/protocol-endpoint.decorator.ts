import { applyDecorators, CanActivate, Inject, Injectable, NotFoundException, UseGuards } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { Public } from './auth.decorators';

/** OAUTH2_AS_ENABLED=false: the protocol endpoints do not exist (SPEC §1). */
@Injectable()
export class AuthorizationServerEnabledGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(): boolean {
    if (!this.config.authorizationServer.enabled) throw new NotFoundException();
    return true;
  }
}

/**
 * An OAuth protocol endpoint: no session or bearer needed to reach it (clients authenticate by the protocol's own
 * means), and absent while the authorization server is disabled.
 */
export const ProtocolEndpoint = () => applyDecorators(Public(), UseGuards(AuthorizationServerEnabledGuard));
