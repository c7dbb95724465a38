import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from './app-config';

/** Injection token for the frozen AppConfig. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/**
 * Injection token for where the server tells its operator something once, outside the logs (the bootstrap admin's
 * generated password): stdout for the server; stderr for the CLI, whose stdout is the command's answer.
 */
export const ANNOUNCE = Symbol('ANNOUNCE');
export type Announce = (text: string) => void;

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig, announce: Announce = (text) => process.stdout.write(text)): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: APP_CONFIG, useValue: config }, { provide: ANNOUNCE, useValue: announce }],
      exports: [APP_CONFIG, ANNOUNCE],
    };
  }
}
