/**
 * Every request the soak made: which step, which instance, what came back, whether that was the expected answer,
 * and when it started and ended, so each can be placed against the moments PostgreSQL was away.
 */

/** An HTTP status, or how the request failed without one. */
export type Outcome = number | 'network' | 'timeout';

export interface Answer {
  readonly step: string;
  readonly instance: string;
  readonly outcome: Outcome;
  readonly expected: boolean;
  readonly start: number;
  readonly end: number;
  /** A 503 that said when to come back. */
  readonly retryAfter?: boolean;
}

export interface Window {
  readonly from: number;
  readonly to: number;
}

export class Tally {
  readonly answers: Answer[] = [];

  add(answer: Answer): void {
    this.answers.push(answer);
  }

  /** Answers wholly before `window`, overlapping it, and wholly after it. */
  split(window: Window | undefined): { before: Answer[]; during: Answer[]; after: Answer[] } {
    const before: Answer[] = [];
    const during: Answer[] = [];
    const after: Answer[] = [];
    for (const a of this.answers) {
      if (!window || a.end < window.from) before.push(a);
      else if (a.start > window.to) after.push(a);
      else during.push(a);
    }
    return { before, during, after };
  }
}

export function isServerFailure(outcome: Outcome): boolean {
  return typeof outcome !== 'number' || outcome >= 500;
}

/** "200×1234 302×88 503×12": counts by outcome, in order. */
export function outcomes(answers: readonly Answer[]): string {
  const counts = countBy(answers, (a) => String(a.outcome));
  const order = (k: string) => (Number.isNaN(Number(k)) ? 1000 : Number(k));
  return [...counts].sort(([a], [b]) => order(a) - order(b)).map(([k, n]) => `${k}×${n}`).join(' ') || 'none';
}

export function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}
