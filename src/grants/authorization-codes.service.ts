import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Clock } from '../common/clock';
import { CryptoService } from '../common/crypto/crypto.service';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { AuthorizationCodeEntity } from './entities/authorization-code.entity';

export interface NewAuthorizationCode {
  readonly appId: string;
  readonly userId: string;
  readonly grantId: string;
  readonly redirectUri: string;
  readonly redirectUriExplicit: boolean;
  readonly codeChallenge: string | null;
  readonly codeChallengeMethod: string | null;
  readonly scopes: readonly string[];
  readonly nonce: string | null;
  readonly resources: readonly string[];
  readonly authTime: Date;
}

/** Authorization codes (SPEC §3): 256 random bits, stored only as a SHA-256 hash, single use, AUTH_CODE_TTL. */
@Injectable()
export class AuthorizationCodesService {
  constructor(
    @InjectRepository(AuthorizationCodeEntity) private readonly codes: Repository<AuthorizationCodeEntity>,
    private readonly crypto: CryptoService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Stores a new code bound to everything the token request must match; answers the raw code, never stored. */
  async issue(code: NewAuthorizationCode): Promise<string> {
    const raw = this.crypto.randomToken(32);
    const expiresAt = new Date(this.clock.now().getTime() + this.config.authorizationServer.authCodeTtl * 1000);
    await this.codes.insert({
      ...code,
      scopes: [...code.scopes],
      resources: [...code.resources],
      codeHash: this.crypto.sha256Hex(raw),
      expiresAt,
    });
    return raw;
  }
}
