import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/common/paths';

const DIR = join(PROJECT_ROOT, 'src/database/migrations');

/**
 * What an older instance still running during a rolling restart cannot live with (README, Running in production):
 * a table or column it reads gone or renamed, a column it does not write made required, a type changed under it,
 * a trigger or function it relies on dropped.
 */
const CONTRACT_CHANGES: [string, RegExp][] = [
  ['DROP TABLE', /\bDROP\s+TABLE\b/i],
  ['DROP COLUMN', /\bDROP\s+COLUMN\b/i],
  ['RENAME', /\bRENAME\b/i],
  ['SET NOT NULL', /\bSET\s+NOT\s+NULL\b/i],
  ['ALTER COLUMN … TYPE', /\bALTER\s+COLUMN\s+"?\w+"?\s+(SET\s+DATA\s+)?TYPE\b/i],
  ['DROP TRIGGER / FUNCTION', /\bDROP\s+(TRIGGER|FUNCTION)\b/i],
  // A new required column the older code does not write: only with a default.
  ['ADD … NOT NULL without DEFAULT', /\bADD\s+(COLUMN\s+)?"?\w+"?\s[^,;`]*\bNOT\s+NULL\b(?![^,;`]*\bDEFAULT\b)/i],
];

/** A migration may contract only when it says why: `// contract: <reason>` (shipped a release after the code stopped using it). */
const CONTRACT_MARKER = /\/\/\s*contract:\s*\S/;

/** The contract changes in a migration's `up`, unless it carries the marker. */
function contractChanges(source: string): string[] {
  const up = /async\s+up\s*\([^)]*\)[^{]*\{([\s\S]*?)\n\s*(public\s+)?async\s+down\b/.exec(source)?.[1];
  if (up === undefined) throw new Error('no up() followed by down() found');
  if (CONTRACT_MARKER.test(source)) return [];
  return CONTRACT_CHANGES.filter(([, pattern]) => pattern.test(up)).map(([name]) => name);
}

describe('migrations after the first only expand (the rolling-restart rule)', () => {
  const files = readdirSync(DIR).filter((f) => /^\d+-\w+\.ts$/.test(f)).sort();

  it('finds the migrations, in order, the first being the schema itself', () => {
    expect(files[0]).toMatch(/-CreateSchema\.ts$/);
    expect(files.length).toBeGreaterThan(1);
  });

  it.each(files.slice(1))('%s expands only, or says why it contracts', (file) => {
    expect(contractChanges(readFileSync(join(DIR, file), 'utf8'))).toEqual([]);
  });

  it('the guard catches contract changes, and lets a marked one through', () => {
    const migration = (up: string, marker = '') => `export class X { async up(q) {\n${marker}${up}\n  }\n  async down(q) {\n  }\n}`;
    expect(contractChanges(migration('await q.query(`ALTER TABLE "apps" DROP COLUMN "logo_uri"`);'))).toEqual(['DROP COLUMN']);
    expect(contractChanges(migration('await q.query(`ALTER TABLE "apps" RENAME COLUMN "name" TO "title"`);'))).toEqual(['RENAME']);
    expect(contractChanges(migration('await q.query(`ALTER TABLE "users" ALTER COLUMN "email" SET NOT NULL`);'))).toEqual(['SET NOT NULL']);
    expect(contractChanges(migration('await q.query(`ALTER TABLE "users" ADD "locale" character varying(35) NOT NULL`);'))).toEqual(['ADD … NOT NULL without DEFAULT']);
    expect(contractChanges(migration('await q.query(`DROP TABLE "rate_limits"`);'))).toEqual(['DROP TABLE']);
    expect(contractChanges(migration('await q.query(`ALTER TABLE "users" ADD "locale" character varying(35) NOT NULL DEFAULT \'en\'`);'))).toEqual([]);
    expect(contractChanges(migration('await q.query(`ALTER TABLE "apps" ADD "tos_uri" text`);'))).toEqual([]);
    expect(contractChanges(migration('await q.query(`ALTER TABLE "apps" DROP COLUMN "logo_uri"`);', '    // contract: no release since 1.4 reads logo_uri\n'))).toEqual([]);
  });
});
