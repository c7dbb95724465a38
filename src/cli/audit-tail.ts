import { CliDatabase } from './cli-database';
import { CliError, CliIo } from './cli-io';

interface AuditRow {
  readonly id: string;
  readonly occurred_at: Date;
  readonly type: string;
  readonly outcome: string;
  readonly actor_type: string;
  readonly actor_name: string | null;
  readonly subject_user_id: string | null;
  readonly client_id: string | null;
  readonly source_address: string | null;
  readonly request_id: string | null;
}

const POLL_MS = 1000;

/**
 * `audit:tail`: the newest audit events, oldest first, one line each (`--json`: one JSON object per line); with
 * `--follow`, then every new one as it is written, until interrupted. Reads the table on a plain connection, so it
 * starts no housekeeping and changes nothing.
 */
export async function tailAudit(db: CliDatabase, io: CliIo, options: { lines: string; type?: string; follow?: boolean; json: boolean }): Promise<void> {
  const lines = Number(options.lines);
  if (!Number.isInteger(lines) || lines < 1 || lines > 1000) throw new CliError('--lines must be a whole number from 1 to 1000');
  const types = options.type?.split(',').map((t) => t.trim()).filter(Boolean) ?? [];
  if (types.some((t) => !/^[a-z_]+(\.[a-z_]+)*$/.test(t))) throw new CliError('--type takes event types such as sign_in.failed,user.created');

  const connection = await db.connection();
  const [{ present }] = await connection.query(`SELECT to_regclass('public.audit_events') IS NOT NULL AS present`);
  if (!present) throw new CliError('there is no audit trail in this database yet: run portcullis db:migrate');

  /** Rows after `after` (or the newest `lines` when there is none), of the chosen types, oldest first. */
  const read = async (after?: AuditRow): Promise<AuditRow[]> => {
    const params: unknown[] = [];
    const where: string[] = [];
    if (types.length) where.push(`type = ANY($${params.push(types)}::text[])`);
    if (after) where.push(`(occurred_at, id) > ($${params.push(after.occurred_at)}, $${params.push(after.id)}::uuid)`);
    const condition = where.length ? `WHERE ${where.join(' AND ')}` : '';
    if (after) return connection.query(`SELECT * FROM audit_events ${condition} ORDER BY occurred_at, id LIMIT 1000`, params);
    const newest = `SELECT * FROM audit_events ${condition} ORDER BY occurred_at DESC, id DESC LIMIT $${params.push(lines)}`;
    return connection.query(`SELECT * FROM (${newest}) newest ORDER BY occurred_at, id`, params);
  };

  let last: AuditRow | undefined;
  const print = (rows: AuditRow[]) => {
    rows.forEach((row) => io.out(format(row, options.json)));
    last = rows.at(-1) ?? last;
  };
  print(await read());
  if (!options.follow) return;
  let stopped = false;
  void io.interrupted?.then(() => (stopped = true));
  while (!stopped) {
    await Promise.race([new Promise((resolve) => setTimeout(resolve, POLL_MS)), io.interrupted]);
    if (!stopped) print(last ? await read(last) : await read());
  }
}

function format(row: AuditRow, json: boolean): string {
  if (json) return `${JSON.stringify(row)}\n`;
  const actor = row.actor_name ? `${row.actor_type}:${row.actor_name}` : row.actor_type;
  const parts = [new Date(row.occurred_at).toISOString(), row.type, row.outcome, `by ${actor}`];
  if (row.subject_user_id) parts.push(`user ${row.subject_user_id}`);
  if (row.client_id) parts.push(`client ${row.client_id}`);
  if (row.source_address) parts.push(`from ${row.source_address}`);
  if (row.request_id) parts.push(`request ${row.request_id}`);
  return `${parts.join('  ')}\n`;
}
