import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import passport from 'passport';
import { Strategy } from 'passport-http-bearer';
import { BearerTokenRegistry } from './bearer-token-registry';
import type { Principal } from './principal';

/**
 * RFC 6750 bearer tokens from the Authorization header (passport-http-bearer), checked by whichever verifier
 * recognises them. Each application has its own passport instance: passport's default one is shared by the whole
 * process, so a second app in the process (tests booting two instances, an embedder mounting two) would otherwise
 * answer for the first with its own verifiers.
 */
@Injectable()
export class BearerAuthenticator {
  private readonly passport = new passport.Passport();

  constructor(registry: BearerTokenRegistry) {
    this.passport.use('bearer', new Strategy((token, done) => {
      registry.verify(token).then((principal) => done(null, principal ?? false), (err: unknown) => done(err));
    }));
  }

  /** The principal behind the request's bearer token, or undefined when the token is not valid. */
  authenticate(req: Request, res: Response): Promise<Principal | undefined> {
    return new Promise((resolve, reject) => {
      const run = this.passport.authenticate('bearer', { session: false }, (err: unknown, principal: Principal | false) => {
        if (err) reject(err);
        else resolve(principal || undefined);
      }) as (req: Request, res: Response, next: (err?: unknown) => void) => void;
      run(req, res, (err) => (err ? reject(err) : resolve(undefined)));
    });
  }
}
