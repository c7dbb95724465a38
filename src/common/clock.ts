import { Injectable } from '@nestjs/common';

/** The time, injected so that expiry can be tested without sleeping. */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }

  nowSeconds(): number {
    return Math.floor(Date.now() / 1000);
  }
}
