import { Injectable } from '@nestjs/common';

/** What a sign-in is for, when it interrupts a request people recognise: the app they are signing in to. */
export interface SignInPurpose {
  readonly appName: string;
  readonly selfRegistered: boolean;
}

type PurposeReader = (returnTo: string) => Promise<SignInPurpose | undefined>;

/**
 * The sign-in page says which app it is for ("to continue to Acme Notes"). Only the module that sent the browser
 * here knows how to read that from `return_to`; it registers a reader at start-up, so identity does not depend on
 * the modules above it.
 */
@Injectable()
export class SignInPurposes {
  private readonly readers: PurposeReader[] = [];

  register(reader: PurposeReader): void {
    this.readers.push(reader);
  }

  async of(returnTo: string): Promise<SignInPurpose | undefined> {
    for (const read of this.readers) {
      const purpose = await read(returnTo);
      if (purpose) return purpose;
    }
    return undefined;
  }
}
