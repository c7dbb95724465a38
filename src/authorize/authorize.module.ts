import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module';
import { GrantsModule } from '../grants/grants.module';
import { IdentityModule } from '../identity/identity.module';
import { AuthorizeController, JsonAuthorizeController } from './authorize.controller';
import { AuthorizeService } from './authorize.service';

@Module({
  imports: [ClientsModule, GrantsModule, IdentityModule],
  controllers: [AuthorizeController, JsonAuthorizeController],
  providers: [AuthorizeService],
})
export class AuthorizeModule {}
