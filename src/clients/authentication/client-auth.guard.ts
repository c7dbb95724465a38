import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { clientActor } from '../../identity/audit/actors';
import { identifyActor } from '../../identity/audit/audit-context';
import { AuthenticatedClient, ClientAuthenticationService } from './client-authentication.service';

interface ClientRequest extends Request {
  client?: AuthenticatedClient;
}

/** Authenticates the OAuth client of a protocol request (token, revocation, introspection). */
@Injectable()
export class ClientAuthGuard implements CanActivate {
  constructor(private readonly clients: ClientAuthenticationService) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<ClientRequest>();
    req.client = await this.clients.authenticate({ authorization: req.headers.authorization, body: req.body as Record<string, unknown> | undefined, ip: req.ip ?? '' });
    identifyActor(clientActor(req.client.app));
    return true;
  }
}

/** The client that ClientAuthGuard authenticated. */
export const CurrentClient = createParamDecorator((_data: unknown, ctx: ExecutionContext): AuthenticatedClient => {
  const client = ctx.switchToHttp().getRequest<ClientRequest>().client;
  if (!client) throw new Error('CurrentClient used on a route without ClientAuthGuard');
  return client;
});
