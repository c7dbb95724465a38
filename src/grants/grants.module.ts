import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthorizationCodesService } from './authorization-codes.service';
import { AuthorizationCodeEntity } from './entities/authorization-code.entity';
import { GrantEntity } from './entities/grant.entity';
import { RefreshTokenEntity } from './entities/refresh-token.entity';
import { GrantsService } from './grants.service';

/** Owner of the OAuth grant data: grants, authorization codes and refresh tokens. */
@Module({
  imports: [TypeOrmModule.forFeature([GrantEntity, AuthorizationCodeEntity, RefreshTokenEntity])],
  providers: [GrantsService, AuthorizationCodesService],
  exports: [GrantsService, AuthorizationCodesService],
})
export class GrantsModule {}
