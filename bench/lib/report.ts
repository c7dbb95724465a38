/** Medians over samples, the printed tables and the JSON written to bench/results/latest.json. */
import { LoadResult } from './load';
import { perRequest, PerRequest, StatementUse } from './pg-stats';
import { WorkloadName } from './workloads';

export type ServerName = 'portcullis' | 'oidc-provider' | 'nest-ping';
export const SERVER_ORDER: readonly ServerName[] = ['portcullis', 'oidc-provider', 'nest-ping'];

/** One timed window: one sample of one workload on one server. */
export interface Run {
  readonly workload: WorkloadName;
  readonly server: ServerName;
  readonly sample: number;
  readonly result: LoadResult;
  /** Codes or tokens minted for it beforehand. */
  readonly minted?: number;
  /** Portcullis only: what pg_stat_statements counted in the window. */
  readonly statements?: readonly StatementUse[];
}

export interface Row {
  readonly workload: WorkloadName;
  readonly server: ServerName;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** Summed over the samples. */
  readonly errors: number;
  readonly successes: number;
  readonly vsOidcProvider?: number;
  readonly vsPing?: number;
  /** Samples whose window ended early because the pre-minted codes or tokens ran out. */
  readonly ranOut: number;
}

export interface StatementRow {
  readonly workload: WorkloadName;
  /** Medians over the samples. */
  readonly perRequest: PerRequest;
  /** Summed over the samples, per request: the top statements. */
  readonly top: readonly (StatementUse & { readonly perRequest: number })[];
}

export interface Rss {
  readonly server: ServerName;
  readonly startMiB: number;
  readonly afterMiB: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function summarize(runs: readonly Run[], workloads: readonly WorkloadName[]): Row[] {
  const rows: Row[] = [];
  for (const workload of workloads) {
    const byServer = new Map<ServerName, Row>();
    for (const server of SERVER_ORDER) {
      const mine = runs.filter((r) => r.workload === workload && r.server === server);
      if (!mine.length) continue;
      byServer.set(server, {
        workload, server,
        rps: median(mine.map((r) => r.result.rps)),
        p50: median(mine.map((r) => r.result.p50)),
        p99: median(mine.map((r) => r.result.p99)),
        errors: mine.reduce((n, r) => n + r.result.errors, 0),
        successes: mine.reduce((n, r) => n + r.result.successes, 0),
        ranOut: mine.filter((r) => r.result.ranOut).length,
      });
    }
    const oidc = byServer.get('oidc-provider')?.rps;
    const ping = byServer.get('nest-ping')?.rps;
    for (const row of byServer.values()) {
      if (row.server !== 'portcullis') rows.push(row);
      else rows.push({ ...row, vsOidcProvider: oidc ? row.rps / oidc : undefined, vsPing: ping ? row.rps / ping : undefined });
    }
  }
  return rows;
}

export function statementRows(runs: readonly Run[], workloads: readonly WorkloadName[], top = 8): StatementRow[] {
  return workloads.flatMap((workload) => {
    const mine = runs.filter((r) => r.workload === workload && r.server === 'portcullis' && r.statements);
    if (!mine.length) return [];
    const requestsOf = (r: Run) => r.result.responses;
    const each = mine.map((r) => perRequest([...r.statements!], requestsOf(r)));
    const totalRequests = mine.reduce((n, r) => n + requestsOf(r), 0);
    const merged = new Map<string, StatementUse>();
    for (const use of mine.flatMap((r) => r.statements!)) {
      const key = `${use.toplevel}:${use.query}`;
      const seen = merged.get(key);
      merged.set(key, { ...use, calls: (seen?.calls ?? 0) + use.calls });
    }
    return [{
      workload,
      perRequest: {
        statements: median(each.map((p) => p.statements)),
        transactionControl: median(each.map((p) => p.transactionControl)),
        nested: median(each.map((p) => p.nested)),
      },
      top: [...merged.values()].sort((a, b) => b.calls - a.calls).slice(0, top)
        .map((u) => ({ ...u, perRequest: totalRequests ? u.calls / totalRequests : 0 })),
    }];
  });
}

const fixed = (n: number | undefined, digits: number) => (n === undefined || Number.isNaN(n) ? '' : n.toFixed(digits));

/** A Markdown table, aligned for the terminal too. */
export function table(head: string[], body: string[][], rightAligned: boolean[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (rightAligned[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (rightAligned[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

export function resultsTable(rows: readonly Row[]): string {
  return table(
    ['workload', 'server', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'vs oidc-provider', 'vs ping'],
    rows.map((r) => [
      r.workload, r.server + (r.ranOut ? ' *' : ''), fixed(r.rps, 0), fixed(r.p50, 1), fixed(r.p99, 1), String(r.errors),
      fixed(r.vsOidcProvider, 2), fixed(r.vsPing, 2),
    ]),
    [false, false, true, true, true, true, true, true],
  );
}

export function rssTable(rss: readonly Rss[]): string {
  return table(['server', 'RSS at start (MiB)', 'RSS after the run (MiB)'], rss.map((r) => [r.server, String(r.startMiB), String(r.afterMiB)]), [false, true, true]);
}

export function statementsTable(rows: readonly StatementRow[]): string {
  return table(
    ['workload', 'statements/req', 'BEGIN/COMMIT per req', 'nested (triggers, functions) per req'],
    rows.map((r) => [r.workload, fixed(r.perRequest.statements, 2), fixed(r.perRequest.transactionControl, 2), fixed(r.perRequest.nested, 2)]),
    [false, true, true, true],
  );
}

export function topStatements(rows: readonly StatementRow[]): string {
  return rows.map((r) => [
    `${r.workload}:`,
    ...r.top.map((u) => `  ${u.perRequest.toFixed(2).padStart(6)}/req  ${u.toplevel ? '' : '[nested] '}${u.kind === 'statement' ? '' : `[${u.kind}] `}${u.query.slice(0, 220)}`),
  ].join('\n')).join('\n');
}

/** Every distinct error answer, per workload and server, with its count. */
export function errorReport(runs: readonly Run[]): string[] {
  const lines: string[] = [];
  for (const run of runs) {
    for (const [sample, count] of Object.entries(run.result.errorSamples)) {
      lines.push(`${run.workload} / ${run.server} (sample ${run.sample}): ${count} × ${sample}`);
    }
  }
  return lines;
}
