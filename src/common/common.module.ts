import { Global, Module } from '@nestjs/common';
import { Clock } from './clock';
import { CryptoService } from './crypto/crypto.service';
import { RateLimitsService } from './rate-limit/rate-limits.service';

@Global()
@Module({ providers: [CryptoService, Clock, RateLimitsService], exports: [CryptoService, Clock, RateLimitsService] })
export class CommonModule {}
