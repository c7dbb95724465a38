import { Injectable } from '@nestjs/common';
import type { Principal } from './principal';

/**
 * Turns a bearer token into a principal, or answers undefined when the token is not of its kind (so the next
 * verifier is asked) or not valid.
 */
export interface BearerTokenVerifier {
  verify(token: string): Promise<Principal | undefined>;
}

/**
 * The verifiers the bearer strategy asks in turn. The identity module registers service-account tokens; the token
 * module registers this server's own access tokens when it loads.
 */
@Injectable()
export class BearerTokenRegistry {
  private readonly verifiers: BearerTokenVerifier[] = [];

  register(verifier: BearerTokenVerifier): void {
    this.verifiers.push(verifier);
  }

  async verify(token: string): Promise<Principal | undefined> {
    for (const verifier of this.verifiers) {
      const principal = await verifier.verify(token);
      if (principal) return principal;
    }
    return undefined;
  }
}
