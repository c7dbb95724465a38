import type { DataSource } from 'typeorm';
import { returnedRows } from '../common/database';

/** Rows per statement: each batch commits on its own, so no lock is held for long and traffic goes on between. */
export const PRUNE_BATCH_SIZE = 1000;

export interface Pruned {
  readonly rows: number;
  readonly batches: number;
}

/**
 * Deletes the rows of `table` matching `where`, in bounded batches (SPEC §6: expired rows are pruned). Each batch
 * is one short statement that skips rows another instance is deleting right now (`FOR UPDATE SKIP LOCKED`), so
 * every instance can prune at once without waiting on each other, and a long backlog never becomes one long lock.
 * `table`, `key` and `where` are our own SQL, never input.
 */
export function deleteInBatches(
  dataSource: Pick<DataSource, 'query'>,
  table: string,
  key: string,
  where: string,
  params: unknown[],
  batchSize = PRUNE_BATCH_SIZE,
): Promise<Pruned> {
  return inBatches(batchSize, async () => returnedRows<unknown>(await dataSource.query(
    `WITH doomed AS (SELECT ${key} FROM ${table} WHERE ${where} LIMIT ${Number(batchSize)} FOR UPDATE SKIP LOCKED)
     DELETE FROM ${table} t USING doomed WHERE t.${key} = doomed.${key} RETURNING t.${key}`,
    params,
  )).length);
}

/**
 * Sets `set` on the rows of `table` matching `where`, in bounded batches, like deleteInBatches: for values that must
 * not outlive their use (a refresh token's successor key, a registration's digest of its source address).
 */
export function updateInBatches(
  dataSource: Pick<DataSource, 'query'>,
  table: string,
  key: string,
  set: string,
  where: string,
  params: unknown[],
  batchSize = PRUNE_BATCH_SIZE,
): Promise<Pruned> {
  return inBatches(batchSize, async () => returnedRows<unknown>(await dataSource.query(
    `WITH due AS (SELECT ${key} FROM ${table} WHERE ${where} LIMIT ${Number(batchSize)} FOR UPDATE SKIP LOCKED)
     UPDATE ${table} t SET ${set} FROM due WHERE t.${key} = due.${key} RETURNING t.${key}`,
    params,
  )).length);
}

/** Runs `batch` (which answers the rows it touched) until a batch comes back short. */
async function inBatches(batchSize: number, batch: () => Promise<number>): Promise<Pruned> {
  let rows = 0;
  let batches = 0;
  for (;;) {
    const touched = await batch();
    rows += touched;
    batches++;
    if (touched < batchSize) return { rows, batches };
  }
}
