/**
 * One timed window of load with autocannon, judged response by response: a workload says what a success is
 * (200, 201, or the authorize redirect that carries a code); anything else, and every connection error or
 * timeout, is an error, kept with a sample of what the server answered.
 */
import autocannon from 'autocannon';

export type Headers = Record<string, string | string[]>;

/** What a workload hands the runner: the request (fixed, or rebuilt per request) and what counts as success. */
export interface Load {
  /** The server's origin, `http://127.0.0.1:port`. */
  readonly origin: string;
  readonly request: {
    readonly method: 'GET' | 'POST';
    /** Path and query. */
    readonly path: string;
    readonly headers?: Record<string, string>;
    readonly body?: string;
    /** Rebuilds the request before each send: the consuming workloads take their next code or token here. */
    readonly setupRequest?: (req: autocannon.Request, context: Record<string, unknown>) => autocannon.Request;
    /** Sees every response with the context of the request it answers (the refresh chains advance here). */
    readonly onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
  };
  readonly isSuccess: (status: number, body: string, headers: Headers) => boolean;
  /** A workload that consumes pre-minted material stops after this many requests (each used once). */
  readonly amount?: number;
}

export interface LoadResult {
  readonly successes: number;
  readonly errors: number;
  /**
   * Every response, also those that came after the window while autocannon wound down (up to its next
   * one-second tick): what the server did work for, so the denominator of statements per request.
   */
  readonly responses: number;
  /** Seconds from the start to the last response inside the window. */
  readonly seconds: number;
  /** Successful responses per second. */
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** The window ended because the pre-minted material ran out, not because the time was up. */
  readonly ranOut: boolean;
  /** Distinct error answers (status and the start of the body) with how often each came. */
  readonly errorSamples: Record<string, number>;
}

export async function runLoad(load: Load, seconds: number, connections: number): Promise<LoadResult> {
  let successes = 0;
  let answeredErrors = 0;
  let responses = 0;
  const errorSamples: Record<string, number> = {};
  const start = Date.now();
  const deadline = start + seconds * 1000;
  let last = start;

  const noteError = (sample: string) => {
    if (Object.keys(errorSamples).length < 10 || sample in errorSamples) errorSamples[sample] = (errorSamples[sample] ?? 0) + 1;
  };

  const { onResponse: workloadOnResponse, ...request } = load.request;
  // Without a callback autocannon returns its instance, which is also a promise of the result.
  const instance = autocannon({
    url: load.origin,
    connections: load.amount ? Math.min(connections, load.amount) : connections,
    // With `amount`, autocannon ignores `duration`; the timer below ends such a window at the same time.
    ...(load.amount ? { amount: load.amount } : { duration: seconds }),
    requests: [{
      ...request,
      onResponse: (status: number, body: string, context: Record<string, unknown>, headers: Headers) => {
        workloadOnResponse?.(status, body, context);
        responses++;
        const now = Date.now();
        if (now > deadline) return; // answered after the window: not counted
        last = now;
        if (load.isSuccess(status, body, headers)) successes++;
        else {
          answeredErrors++;
          noteError(`HTTP ${status} ${String(body).replace(/\s+/g, ' ').slice(0, 300)}`);
        }
      },
    } as autocannon.Request],
  }) as unknown as autocannon.Instance & Promise<autocannon.Result>;
  const timer = load.amount ? setTimeout(() => instance.stop(), seconds * 1000) : undefined;
  instance.on('reqError', (e: Error) => noteError(`connection: ${e.message}`));
  // Our own latencies (autocannon's histogram keeps whole milliseconds), for the responses inside the window.
  const latencies: number[] = [];
  instance.on('response', (_client, _status, _bytes, responseTime) => {
    if (Date.now() <= deadline) latencies.push(responseTime);
  });
  const result = await instance;
  clearTimeout(timer);

  const elapsed = Math.max(last - start, 1) / 1000;
  const answered = successes + answeredErrors;
  return {
    successes,
    errors: answeredErrors + result.errors,
    responses,
    seconds: elapsed,
    rps: successes / elapsed,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    ranOut: load.amount !== undefined && answered >= load.amount && elapsed < seconds * 0.95,
    errorSamples,
  };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

/** Header lookup regardless of the case the server wrote it in. */
export function header(headers: Headers, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
  return undefined;
}
