import { Injectable } from '@nestjs/common';
import * as bcrypt from 'bcrypt';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** bcrypt cost: about 45 ms per hash here (OWASP's minimum is 10). */
export const BCRYPT_COST = 10;

/** All randomness and hashing goes through here, so it is reviewed — and replaced in tests — in one place. */
@Injectable()
export class CryptoService {
  /** `bytes` random bytes as base64url: 32 bytes = the 256 bits SPEC §3 asks of codes, sessions and tokens. */
  randomToken(bytes = 32): string {
    return randomBytes(bytes).toString('base64url');
  }

  /** A random secret key of `bytes` bytes, for `derivedToken`. */
  randomKey(bytes = 32): Buffer {
    return randomBytes(bytes);
  }

  /** base64url(HMAC-SHA256(key, value)): a token that only whoever holds both the key and `value` can reproduce. */
  derivedToken(key: Buffer, value: string): string {
    return createHmac('sha256', key).update(value, 'utf8').digest('base64url');
  }

  /** Lookup hash of a high-entropy value (codes, refresh tokens, session ids): a salt adds nothing there. */
  sha256Hex(value: string): string {
    return createHash('sha256').update(value, 'utf8').digest('hex');
  }

  /** Constant-time equality of two strings, whatever their lengths (SPEC §7). */
  safeEqual(a: string, b: string): boolean {
    const left = createHash('sha256').update(a, 'utf8').digest();
    const right = createHash('sha256').update(b, 'utf8').digest();
    return timingSafeEqual(left, right) && a.length === b.length;
  }

  hashPassword(secret: string): Promise<string> {
    return bcrypt.hash(secret, BCRYPT_COST);
  }

  verifyPassword(secret: string, hash: string): Promise<boolean> {
    return bcrypt.compare(secret, hash);
  }
}
