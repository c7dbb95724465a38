import { Global, Module } from '@nestjs/common';
import { Clock } from './clock';
import { CryptoService } from './crypto/crypto.service';
import { Metrics } from './metrics/metrics';
import { RateLimitsService } from './rate-limit/rate-limits.service';

@Global()
@Module({ providers: [CryptoService, Clock, RateLimitsService, Metrics], exports: [CryptoService, Clock, RateLimitsService, Metrics] })
export class CommonModule {}
