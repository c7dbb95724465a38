import { invalidRequest } from '../../common/oauth/oauth-error';

export type Prompt = 'none' | 'login' | 'consent';
const KNOWN = new Set(['none', 'login', 'consent', 'select_account']);

/** OpenID Connect Core §3.1.2.1: `none` stands alone; `select_account` is read as `login`. */
export function checkPrompt(raw: unknown): ReadonlySet<Prompt> {
  if (raw === undefined || raw === '') return new Set();
  if (typeof raw !== 'string') throw invalidRequest('prompt must appear once');
  const values = raw.split(' ').filter(Boolean);
  if (!values.every((v) => KNOWN.has(v))) throw invalidRequest('prompt holds an unknown value');
  if (values.includes('none') && values.length > 1) throw invalidRequest('prompt=none cannot be combined with other values');
  return new Set(values.map((v) => (v === 'select_account' ? 'login' : v)) as Prompt[]);
}
