import { QueryFailedError } from 'typeorm';

/** PostgreSQL SQLSTATE of a failed statement, when it is one. */
function sqlState(e: unknown): string | undefined {
  return e instanceof QueryFailedError ? (e.driverError as { code?: string }).code : undefined;
}

/** The constraint a failed statement broke, for mapping it to a field. */
export function violatedConstraint(e: unknown): string | undefined {
  return e instanceof QueryFailedError ? (e.driverError as { constraint?: string }).constraint : undefined;
}

export const isUniqueViolation = (e: unknown): boolean => sqlState(e) === '23505';
export const isForeignKeyViolation = (e: unknown): boolean => sqlState(e) === '23503';
