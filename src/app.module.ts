import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { CommonModule } from './common/common.module';
import { HttpErrorFilter } from './common/http/http-error.filter';
import { loggerParams } from './common/logging/logging';
import { AppConfig } from './config/app-config';
import { Announce, ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { IdentityModule } from './identity/identity.module';
import { ClientsModule } from './clients/clients.module';
import { DiscoveryModule } from './discovery/discovery.module';
import { TokenModule } from './token/token.module';
import { AuthorizeModule } from './authorize/authorize.module';
import { GrantsModule } from './grants/grants.module';
import { RevocationModule } from './revocation/revocation.module';
import { UserInfoModule } from './userinfo/userinfo.module';
import { ObservabilityModule } from './observability/observability.module';

export interface AppModuleOptions {
  readonly config: AppConfig;
  /** The database to use: DATABASE_URL, the embedded cluster, or a test database. */
  readonly databaseUrl: string;
  /** Where JSON log lines go (stdout when absent); tests capture them here. */
  readonly logDestination?: DestinationStream;
  /** More modules to mount (tests mount probe controllers this way). */
  readonly extraModules?: DynamicModule['imports'];
  /** Where one-off messages to the operator go (stdout unless given). */
  readonly announce?: Announce;
}

@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(options.config, options.announce),
        LoggerModule.forRoot(loggerParams(options.config.logLevel, options.logDestination)),
        DatabaseModule.forRoot(options.databaseUrl, options.config.database, options.config.database.listenUrl ?? options.databaseUrl),
        CommonModule,
        HealthModule,
        IdentityModule,
        ClientsModule,
        DiscoveryModule,
        TokenModule,
        GrantsModule,
        AuthorizeModule,
        RevocationModule,
        UserInfoModule,
        ObservabilityModule.forRoot(options.config.metrics),
        ...(options.extraModules ?? []),
      ],
      providers: [{ provide: APP_FILTER, useClass: HttpErrorFilter }],
    };
  }
}
