/**
 * A client-side load balancer, as an operator's would be: round robin over the instances whose `/readyz` answered
 * 200 at its last check (every 100 ms), and over all of them when none did (fail open, so clients see what the
 * instances answer during an outage instead of a balancer error).
 */
import type { Instance } from './cluster';

const CHECK_EVERY_MS = 100;

export class Balancer {
  private readonly ready = new Set<Instance>();
  private next = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly instances: readonly Instance[]) {}

  start(): void {
    const check = async () => {
      await Promise.all(this.instances.map(async (instance) => {
        const ok = await fetch(`${instance.url}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => {
          void r.body?.cancel();
          return r.status === 200;
        }, () => false);
        if (ok) this.ready.add(instance);
        else this.ready.delete(instance);
      }));
      if (!this.stopped) this.timer = setTimeout(() => void check(), CHECK_EVERY_MS);
    };
    for (const instance of this.instances) this.ready.add(instance);
    void check();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  pick(): Instance {
    const pool = this.instances.filter((i) => this.ready.has(i));
    const from = pool.length > 0 ? pool : this.instances;
    return from[this.next++ % from.length];
  }
}
