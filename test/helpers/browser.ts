import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, chromium } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/common/paths';

/** Screenshots and other artefacts of browser tests (git-ignored). */
export const TEST_OUTPUT = join(PROJECT_ROOT, 'test-output');

/**
 * Debian's Chromium (installed by .ci/run), headless, with the background networking that this closed network
 * would refuse switched off. `launch` gives every browser a fresh temporary profile of its own.
 */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(TEST_OUTPUT, { recursive: true });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export const screenshotPath = (name: string): string => join(TEST_OUTPUT, `${name}.png`);
