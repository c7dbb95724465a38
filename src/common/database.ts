import { DatabaseError } from 'pg';
import { QueryFailedError } from 'typeorm';

/** PostgreSQL SQLSTATE of a failed statement (through TypeORM or a prepared statement), when it is one. */
function sqlState(e: unknown): string | undefined {
  if (e instanceof QueryFailedError) return (e.driverError as { code?: string }).code;
  return e instanceof DatabaseError ? e.code : undefined;
}

export const isUniqueViolation = (e: unknown): boolean => sqlState(e) === '23505';
/** 40P01 deadlock_detected: PostgreSQL aborted this transaction to let a concurrent one finish. */
export const isDeadlock = (e: unknown): boolean => sqlState(e) === '40P01';
/** 23503 foreign_key_violation, or 23001 restrict_violation from an ON DELETE RESTRICT key. */
export const isForeignKeyViolation = (e: unknown): boolean => ['23503', '23001'].includes(sqlState(e) ?? '');

/**
 * Rows of an `UPDATE … RETURNING` / `DELETE … RETURNING` run through TypeORM's `query()`, which answers those
 * as `[rows, affectedCount]` on PostgreSQL but plain rows for other statements.
 */
export function returnedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}
