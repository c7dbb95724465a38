import { UsageWriteBehind } from './write-behind';

describe('UsageWriteBehind', () => {
  const HOUR = 3_600_000;
  let batches: { sql: string; params: unknown[] }[];
  let failNext: boolean;
  let usage: UsageWriteBehind;
  beforeEach(() => {
    batches = [];
    failNext = false;
    usage = new UsageWriteBehind('apps', async (sql, params) => {
      if (failNext) {
        failNext = false;
        throw new Error('database down');
      }
      batches.push({ sql, params });
    }, HOUR);
  });
  afterEach(() => usage.stop());

  it('writes every pending use in one statement, the latest time of each id', async () => {
    usage.record('a', new Date(1000));
    usage.record('b', new Date(2000));
    usage.record('a', new Date(3000));
    await usage.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0].sql).toContain('UPDATE apps SET last_used_at');
    expect(batches[0].params).toEqual([['a', 'b'], [new Date(3000), new Date(2000)]]);
  });

  it('writes nothing when nothing is pending', async () => {
    await usage.flush();
    expect(batches).toEqual([]);
  });

  it('keeps a batch that failed for the next flush, without overwriting newer uses', async () => {
    usage.record('a', new Date(1000));
    usage.record('b', new Date(1000));
    failNext = true;
    await expect(usage.flush()).rejects.toThrow('database down');
    usage.record('a', new Date(5000));
    await usage.flush();
    expect(batches[0].params).toEqual([['a', 'b'], [new Date(5000), new Date(1000)]]);
  });

  it('writes what is pending when stopped', async () => {
    usage.record('a', new Date(1000));
    await usage.stop();
    expect(batches).toHaveLength(1);
  });
});
