/**
 * Portcullis's statements per request, from pg_stat_statements: a snapshot of the call counters just before and
 * just after a timed window, restricted to the application database. The snapshots are taken from the
 * `postgres` maintenance database, so the bench's own queries never appear in the application's figures.
 */
import { Client } from 'pg';

interface Counter {
  readonly query: string;
  readonly toplevel: boolean;
  readonly calls: number;
}

export type Snapshot = Map<string, Counter>;

export interface StatementUse {
  readonly query: string;
  readonly calls: number;
  /** false: run inside a function or trigger (pg_stat_statements.track = all). */
  readonly toplevel: boolean;
  readonly kind: 'statement' | 'transaction' | 'housekeeping';
}

/** Transaction control is counted apart: it is a round trip, but not the work a target counts. */
const TRANSACTION = /^\s*(BEGIN|START TRANSACTION|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b/i;
/** The notification connection's LISTEN/UNLISTEN: housekeeping, not a request's work. */
const HOUSEKEEPING = /^\s*(UN)?LISTEN\b/i;

export class PgStats {
  private constructor(private readonly client: Client, private readonly dbid: number) {}

  /** `adminUrl`: the maintenance database, where the extension is created (its view covers every database). */
  static async connect(adminUrl: string, database: string): Promise<PgStats> {
    const client = new Client({ connectionString: adminUrl });
    client.on('error', () => undefined); // PostgreSQL going down at the end is expected
    await client.connect();
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const { rows } = await client.query<{ oid: number }>('SELECT oid FROM pg_database WHERE datname = $1', [database]);
    if (!rows[0]) throw new Error(`no database ${database}`);
    return new PgStats(client, rows[0].oid);
  }

  async snapshot(): Promise<Snapshot> {
    const { rows } = await this.client.query<{ id: string; toplevel: boolean; calls: string; query: string }>(
      'SELECT queryid::text || \':\' || toplevel AS id, toplevel, calls, query FROM pg_stat_statements WHERE dbid = $1',
      [this.dbid],
    );
    return new Map(rows.map((r) => [r.id, { query: r.query, toplevel: r.toplevel, calls: Number(r.calls) }]));
  }

  async serverVersion(): Promise<string> {
    const { rows } = await this.client.query<{ server_version: string }>('SHOW server_version');
    return rows[0].server_version;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/** What ran between two snapshots, most called first. */
export function statementsBetween(before: Snapshot, after: Snapshot): StatementUse[] {
  const used: StatementUse[] = [];
  for (const [id, counter] of after) {
    const calls = counter.calls - (before.get(id)?.calls ?? 0);
    if (calls <= 0) continue;
    const query = counter.query.replace(/\s+/g, ' ').trim();
    const kind = HOUSEKEEPING.test(query) ? 'housekeeping' : TRANSACTION.test(query) ? 'transaction' : 'statement';
    used.push({ query, calls, toplevel: counter.toplevel, kind });
  }
  return used.sort((a, b) => b.calls - a.calls);
}

export interface PerRequest {
  /** Top-level statements other than transaction control: the figure the targets count. */
  readonly statements: number;
  /** BEGIN / COMMIT / ROLLBACK / SAVEPOINT per request. */
  readonly transactionControl: number;
  /** Statements run inside functions and triggers, per request. */
  readonly nested: number;
}

export function perRequest(used: StatementUse[], requests: number): PerRequest {
  const sum = (pick: (u: StatementUse) => boolean) => (requests ? used.filter(pick).reduce((n, u) => n + u.calls, 0) / requests : 0);
  return {
    statements: sum((u) => u.toplevel && u.kind === 'statement'),
    transactionControl: sum((u) => u.toplevel && u.kind === 'transaction'),
    nested: sum((u) => !u.toplevel && u.kind !== 'housekeeping'),
  };
}
