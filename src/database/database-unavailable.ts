/**
 * Is this error PostgreSQL being out of reach — stopped, restarting, failed over, refusing connections, a pool
 * wait or a statement past its timeout — rather than a bug? Such errors are answered 503 with `Retry-After`
 * (SPEC §7: never a 500), and the server recovers by itself once the database answers again.
 */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * SQLSTATEs: class 08 (connection exception), 53300 too_many_connections, 57P01 admin_shutdown, 57P02
 * crash_shutdown, 57P03 cannot_connect_now (starting up or shutting down), 57014 query_canceled (our statement
 * timeout), 25P03 idle_in_transaction_session_timeout.
 */
const UNAVAILABLE_SQLSTATE = /^(08...|53300|57P0[123]|57014|25P03)$/;

/** node-postgres and its pool say so in words only. */
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client was closed and is not queryable|Cannot use a pool after calling end on the pool)/;

/**
 * TypeORM releases a transaction's query runner when its connection reports an error (the server went away
 * between two statements); every later statement of that transaction — its COMMIT included — then fails with one
 * of these, not the cause. (The soak met the second one: a COMMIT after PostgreSQL stopped mid-transaction.)
 */
const RELEASED_BY_CONNECTION_ERROR = new Set(['QueryRunnerProviderAlreadyReleasedError', 'QueryRunnerAlreadyReleasedError']);

/** Seconds a client should wait before trying again. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 3) return false;
  const e = error as { code?: unknown; message?: unknown; name?: unknown; driverError?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.name === 'string' && RELEASED_BY_CONNECTION_ERROR.has(e.name)) return true;
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || UNAVAILABLE_SQLSTATE.test(e.code))) return true;
  if (e.driverError && isDatabaseUnavailable(e.driverError, depth + 1)) return true;
  if (e.cause && isDatabaseUnavailable(e.cause, depth + 1)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message);
}
