import { Injectable } from '@nestjs/common';

/** Something that holds credentials issued to users and must end them (the grants module's tokens). */
export interface UserTokenRevoker {
  revokeUserTokens(userId: string): Promise<void>;
}

/**
 * What must happen beyond this module when a user's role or password changes (SPEC §7: every token dies with the
 * user's role or password). Identity cannot depend on the modules that issue tokens — they depend on it — so
 * they register here when they load, as the token module registers its bearer verifier.
 */
@Injectable()
export class UserCredentialHooks {
  private readonly revokers: UserTokenRevoker[] = [];

  register(revoker: UserTokenRevoker): void {
    this.revokers.push(revoker);
  }

  async revokeUserTokens(userId: string): Promise<void> {
    for (const revoker of this.revokers) await revoker.revokeUserTokens(userId);
  }
}
