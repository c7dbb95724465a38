import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdentityModule } from '../identity/identity.module';
import { AppsController } from './apps.controller';
import { AppsService } from './apps.service';
import { ClientAuthGuard } from './authentication/client-auth.guard';
import { ClientAuthenticationService } from './authentication/client-authentication.service';
import { AppEntity } from './entities/app.entity';
import { DcrCleanupService } from './registration/dcr-cleanup.service';
import { RegistrationController } from './registration/registration.controller';
import { RegistrationGuard } from './registration/registration.guard';
import { ScopesController } from './scopes/scopes.controller';
import { ScopesService } from './scopes/scopes.service';
import { ClientIdMetadataDocuments } from './metadata-documents/client-id-metadata-documents.service';

/** OAuth clients: apps, their registration (admin API and RFC 7591), their authentication, and the scopes. */
@Module({
  imports: [TypeOrmModule.forFeature([AppEntity]), IdentityModule],
  controllers: [AppsController, RegistrationController, ScopesController],
  providers: [AppsService, ClientAuthenticationService, ClientAuthGuard, RegistrationGuard, ScopesService, DcrCleanupService, ClientIdMetadataDocuments],
  exports: [AppsService, ClientAuthenticationService, ClientAuthGuard, ScopesService],
})
export class ClientsModule {}
