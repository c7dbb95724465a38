import { Module } from '@nestjs/common';
import { IdentityModule } from '../identity/identity.module';
import { ClientsModule } from '../clients/clients.module';
import { GrantsModule } from '../grants/grants.module';
import { TokenModule } from '../token/token.module';
import { RevocationController } from './revocation.controller';
import { RevocationService } from './revocation.service';

@Module({ imports: [ClientsModule, GrantsModule, TokenModule, IdentityModule], controllers: [RevocationController], providers: [RevocationService] })
export class RevocationModule {}
