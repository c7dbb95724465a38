/**
 * Text that people read on our pages — app names, URLs, hosts — must look like what it is. Controls, format
 * characters (bidi embeddings, overrides and isolates, LRM/RLM/ALM, zero-width characters, the soft hyphen) and
 * line or paragraph separators can reorder or hide what a name says (a right-to-left override turns
 * "Acme\u202Egnp.exe" into "Acmeexe.png"), so registrations refuse them and the pages strip them from anything
 * stored before that rule.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const UNSAFE_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** Why a name may not be registered, or undefined when it may; `text` is checked after NFC normalisation. */
export function unsafeTextProblem(text: string): string | undefined {
  const found = UNSAFE.exec(text.normalize('NFC'));
  if (!found) return undefined;
  const code = found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return `must not contain control, format or bidirectional characters (found U+${code})`;
}

/** The form a name is stored in: NFC, trimmed. */
export function normaliseText(text: string): string {
  return text.normalize('NFC').trim();
}

/** What a page shows of stored text: NFC, without any character `unsafeTextProblem` refuses. */
export function displayable(text: string): string {
  return text.normalize('NFC').replace(UNSAFE_ALL, '').trim();
}

/** U+2068 FIRST STRONG ISOLATE … U+2069 POP DIRECTIONAL ISOLATE: the `<bdi>` of plain text (`<title>`, attributes). */
export function isolated(text: string): string {
  return `\u2068${displayable(text)}\u2069`;
}

const GRAPHEMES = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** At most `max` user-perceived characters, with an ellipsis when cut; `cut` says whether it was. */
export function capped(text: string, max: number): { text: string; cut: boolean } {
  const clean = displayable(text);
  const graphemes = Array.from(GRAPHEMES.segment(clean), (s) => s.segment);
  if (graphemes.length <= max) return { text: clean, cut: false };
  return { text: `${graphemes.slice(0, max - 1).join('').trimEnd()}…`, cut: true };
}

/**
 * Alphabets whose letters look alike (Latin "a", Cyrillic "а", Greek "α"): a name that mixes them is how one app
 * imitates another's name. Returns the alphabets when more than one of them appears.
 */
const LOOKALIKE_SCRIPTS: ReadonlyArray<readonly [string, RegExp]> = [
  ['Latin', /\p{Script=Latin}/u],
  ['Cyrillic', /\p{Script=Cyrillic}/u],
  ['Greek', /\p{Script=Greek}/u],
  ['Armenian', /\p{Script=Armenian}/u],
  ['Cherokee', /\p{Script=Cherokee}/u],
];

export function mixedScripts(text: string): string[] {
  const found = LOOKALIKE_SCRIPTS.filter(([, pattern]) => pattern.test(text)).map(([name]) => name);
  return found.length > 1 ? found : [];
}
