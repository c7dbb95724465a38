import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
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

/** The axe-core rule sets the pages must pass: WCAG 2.0–2.2 A and AA, and axe's best practices. */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] as const;

/**
 * Injects axe-core into the page and answers its violations as `rule: help @ targets` lines ([] when none). The
 * pages' CSP forbids inline scripts; Playwright's evaluate goes through CDP, which the CSP does not govern.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate<boolean>('typeof window.axe === "object"'))) await page.evaluate(source);
  return page.evaluate<string[]>(
    `axe.run(document, { runOnly: { type: 'tag', values: ${JSON.stringify(AXE_TAGS)} } })` +
      `.then(r => r.violations.map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.map(n => n.target.join(' ')).join(', ')))`,
  );
}

/** `rgb(r, g, b)` / `rgba(r, g, b, a)` as computed styles write them. */
export function parseRgb(color: string): [number, number, number] {
  const m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:[,\s/]+([\d.]+%?))?\s*\)$/.exec(color.trim());
  if (!m) throw new Error(`not an rgb() colour: ${color}`);
  if (m[4] !== undefined && parseFloat(m[4]) < (m[4].endsWith('%') ? 100 : 1)) throw new Error(`translucent colour, contrast undefined: ${color}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** WCAG 2.x relative luminance of an sRGB colour. */
export function relativeLuminance(color: string): number {
  const [r, g, b] = parseRgb(color).map((c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG 2.x contrast ratio, 1 to 21. */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Presses Tab until `selector` has the focus (so :focus-visible applies as for a keyboard user). */
export async function tabTo(page: Page, selector: string, maxPresses = 40): Promise<void> {
  for (let i = 0; i < maxPresses; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate<boolean>(`document.activeElement === document.querySelector(${JSON.stringify(selector)})`)) return;
  }
  throw new Error(`${selector} never got the focus in ${maxPresses} presses of Tab`);
}
