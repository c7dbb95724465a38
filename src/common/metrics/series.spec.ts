import { Registry } from 'prom-client';
import { CounterFamily, HistogramFamily } from './series';

function registryOf(...families: Array<CounterFamily | HistogramFamily>): Registry {
  const registry = new Registry();
  for (const family of families) registry.registerMetric(family.asMetric());
  return registry;
}

describe('metric series', () => {
  it('writes a counter family in the Prometheus text format, one line per label set, values escaped', async () => {
    const family = new CounterFamily('test_requests_total', 'Requests', ['route', 'status']);
    family.with('/a/:id', '200').inc();
    family.with('/a/:id', '200').inc(2);
    family.with('say "hi"\\', '404').inc();
    expect(await registryOf(family).metrics()).toBe([
      '# HELP test_requests_total Requests',
      '# TYPE test_requests_total counter',
      'test_requests_total{route="/a/:id",status="200"} 3',
      'test_requests_total{route="say \\"hi\\"\\\\",status="404"} 1',
      '',
    ].join('\n'));
  });

  it('hands out the same series for the same label values', () => {
    const family = new CounterFamily('test_total', 'Test', ['a', 'b']);
    expect(family.with('x', 'y')).toBe(family.with('x', 'y'));
    expect(family.with('x', 'y')).not.toBe(family.with('x\u0000y', ''));
  });

  it('refuses label values that do not match its label names', () => {
    expect(() => new CounterFamily('test_total', 'Test', ['a', 'b']).with('x')).toThrow('test_total takes the labels a, b');
  });

  it('writes cumulative buckets, +Inf, sum and count for a histogram; a value on a bound falls in that bucket', async () => {
    const family = new HistogramFamily('test_seconds', 'Durations', ['route'], [0.1, 1]);
    for (const value of [0.05, 0.1, 0.5, 3]) family.with('/x').observe(value);
    expect(await registryOf(family).metrics()).toBe([
      '# HELP test_seconds Durations',
      '# TYPE test_seconds histogram',
      'test_seconds_bucket{route="/x",le="0.1"} 2',
      'test_seconds_bucket{route="/x",le="1"} 3',
      'test_seconds_bucket{route="/x",le="+Inf"} 4',
      'test_seconds_sum{route="/x"} 3.65',
      'test_seconds_count{route="/x"} 4',
      '',
    ].join('\n'));
  });

  it('writes an unlabelled histogram', async () => {
    const family = new HistogramFamily('test_wait_seconds', 'Waits', [], [1]);
    family.with().observe(2);
    expect(await registryOf(family).metrics()).toContain('test_wait_seconds_bucket{le="1"} 0\ntest_wait_seconds_bucket{le="+Inf"} 1\ntest_wait_seconds_sum 2\ntest_wait_seconds_count 1');
  });
});
