import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module';
import { DiscoveryController } from './discovery.controller';
import { DiscoveryService } from './discovery.service';

@Module({ imports: [ClientsModule], controllers: [DiscoveryController], providers: [DiscoveryService], exports: [DiscoveryService] })
export class DiscoveryModule {}
