import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccessTokenDenyList } from './access-token-deny-list.service';
import { AuthorizationCodesService } from './authorization-codes.service';
import { RevokedAccessTokenEntity } from './entities/revoked-access-token.entity';
import { RefreshTokensService } from './refresh-tokens.service';
import { AuthorizationCodeEntity } from './entities/authorization-code.entity';
import { GrantEntity } from './entities/grant.entity';
import { RefreshTokenEntity } from './entities/refresh-token.entity';
import { GrantsService } from './grants.service';
import { AccountAppsController } from './account-apps.controller';
import { AccountAppsService } from './account-apps.service';
import { UserGrantsController } from './user-grants.controller';
import { UserGrantsService } from './user-grants.service';
import { ClientsModule } from '../clients/clients.module';
import { IdentityModule } from '../identity/identity.module';

/** Owner of the OAuth grant data: grants, authorization codes, refresh tokens and revoked access tokens. */
@Module({
  imports: [TypeOrmModule.forFeature([GrantEntity, AuthorizationCodeEntity, RefreshTokenEntity, RevokedAccessTokenEntity]), IdentityModule, ClientsModule],
  controllers: [UserGrantsController, AccountAppsController],
  providers: [GrantsService, AuthorizationCodesService, RefreshTokensService, AccessTokenDenyList, UserGrantsService, AccountAppsService],
  // One service out: the life of codes, refresh tokens and denied access tokens stays inside this module.
  exports: [GrantsService],
})
export class GrantsModule {}
