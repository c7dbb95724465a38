import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { isDatabaseUnavailable } from './database-unavailable';

describe('isDatabaseUnavailable', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it.each([
    ['a refused connection', withCode('ECONNREFUSED')],
    ['a reset connection', withCode('ECONNRESET')],
    ['admin shutdown (57P01)', withCode('57P01')],
    ['the database starting up (57P03)', withCode('57P03')],
    ['a connection exception (08006)', withCode('08006')],
    ['too many connections (53300)', withCode('53300')],
    ['the statement timeout (57014)', withCode('57014')],
    ['a pool wait past its timeout', new Error('timeout exceeded when trying to connect')],
    ['a connection lost mid-query', new Error('Connection terminated unexpectedly')],
    ['a TypeORM error around a driver error', Object.assign(new Error('query failed'), { driverError: withCode('57P01') })],
    ['a transaction whose connection failed between statements', new QueryRunnerProviderAlreadyReleasedError()],
    ['a COMMIT after the connection failed mid-transaction', new QueryRunnerAlreadyReleasedError()],
    ['both addresses refused (AggregateError)', new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')])],
  ])('is true for %s', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation (23505)', withCode('23505')],
    ['a deadlock (40P01), which is retried, not an outage', withCode('40P01')],
    ['a bug', new TypeError('cannot read properties of undefined')],
    ['an error that merely mentions connections', new Error('the connection error page')],
    ['nothing', undefined],
  ])('is false for %s', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
