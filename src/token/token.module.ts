import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module';
import { TokenController } from './token.controller';
import { TokenService } from './token.service';

@Module({ imports: [ClientsModule], controllers: [TokenController], providers: [TokenService] })
export class TokenModule {}
