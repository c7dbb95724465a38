import { CachedRows } from './cached-rows';

/** A load the test finishes by hand, to order it against a change. */
function deferredLoads() {
  const pending: ((row: { v: number } | null) => void)[] = [];
  let calls = 0;
  const load = () => {
    calls++;
    return new Promise<{ v: number } | null>((resolve) => pending.push(resolve));
  };
  return { load, pending, calls: () => calls };
}

describe('CachedRows', () => {
  it('reads a row once and answers it from memory after that', async () => {
    const loads = deferredLoads();
    const cache = new CachedRows('t', loads.load, { max: 10, ttlMs: 60_000 });
    const first = cache.get('k');
    loads.pending[0]({ v: 1 });
    expect(await first).toEqual({ v: 1 });
    expect(await cache.get('k')).toEqual({ v: 1 });
    expect(loads.calls()).toBe(1);
  });

  it('does not keep a row that was read before a change cleared the cache', async () => {
    const loads = deferredLoads();
    const cache = new CachedRows('t', loads.load, { max: 10, ttlMs: 60_000 });
    const stale = cache.get('k'); // the read starts before the change…
    cache.clear(); // …the change is heard…
    loads.pending[0]({ v: 1 }); // …and the old row arrives after it.
    expect(await stale).toEqual({ v: 1 });
    const fresh = cache.get('k');
    expect(loads.calls()).toBe(2);
    loads.pending[1]({ v: 2 });
    expect(await fresh).toEqual({ v: 2 });
  });

  it('does not keep absent rows', async () => {
    const loads = deferredLoads();
    const cache = new CachedRows('t', loads.load, { max: 10, ttlMs: 60_000 });
    const missing = cache.get('k');
    loads.pending[0](null);
    expect(await missing).toBeNull();
    void cache.get('k');
    expect(loads.calls()).toBe(2);
  });

  it('shares frozen rows, so no request can change what the next one reads', async () => {
    const cache = new CachedRows('t', async () => ({ v: 1 }), { max: 10, ttlMs: 60_000 });
    const row = await cache.get('k');
    expect(Object.isFrozen(row)).toBe(true);
  });
});
