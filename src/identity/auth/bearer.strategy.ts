import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-http-bearer';
import { BearerTokenRegistry } from './bearer-token-registry';
import type { Principal } from './principal';

/** RFC 6750 bearer tokens from the Authorization header, checked by whichever verifier recognises them. */
@Injectable()
export class BearerStrategy extends PassportStrategy(Strategy, 'bearer') {
  constructor(private readonly registry: BearerTokenRegistry) {
    super();
  }

  async validate(token: string): Promise<Principal | false> {
    return (await this.registry.verify(token)) ?? false;
  }
}
