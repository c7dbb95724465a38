import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClientsModule } from '../clients/clients.module';
import { GrantsModule } from '../grants/grants.module';
import { IdentityModule } from '../identity/identity.module';
import { AccessTokenVerifier } from './access-token.verifier';
import { AccessTokensService } from './access-tokens.service';
import { SigningKeyEntity } from './entities/signing-key.entity';
import { AuthorizationCodeGrantType } from './grant-types/authorization-code.grant-type';
import { ClientCredentialsGrantType } from './grant-types/client-credentials.grant-type';
import { GRANT_TYPE_HANDLERS, GrantTypeHandler } from './grant-types/grant-type';
import { RefreshTokenGrantType } from './grant-types/refresh-token.grant-type';
import { JwksController, KeysAdminController } from './keys.controller';
import { MaintenanceService } from './maintenance.service';
import { PrincipalTokensController } from './principal-tokens.controller';
import { PrincipalTokensService } from './principal-tokens.service';
import { SigningKeysService } from './signing-keys.service';
import { TokenController } from './token.controller';
import { TokenService } from './token.service';

const GRANT_TYPES = [AuthorizationCodeGrantType, RefreshTokenGrantType, ClientCredentialsGrantType];

/** The token endpoint, its grant types, the signing keys and this server's access tokens. */
@Module({
  imports: [TypeOrmModule.forFeature([SigningKeyEntity]), ClientsModule, GrantsModule, IdentityModule],
  controllers: [TokenController, JwksController, KeysAdminController, PrincipalTokensController],
  providers: [
    ...GRANT_TYPES,
    { provide: GRANT_TYPE_HANDLERS, useFactory: (...handlers: GrantTypeHandler[]) => handlers, inject: GRANT_TYPES },
    TokenService,
    SigningKeysService,
    AccessTokensService,
    AccessTokenVerifier,
    MaintenanceService,
    PrincipalTokensService,
  ],
  exports: [AccessTokensService, SigningKeysService],
})
export class TokenModule {}
