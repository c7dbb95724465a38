/** Where a CLI run reads and writes: the process's streams, or a test's buffers. */
export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
  /** Everything on standard input (for --password-stdin). */
  readStdin(): Promise<string>;
  /** Resolves when the user asks to stop (Ctrl-C), for `audit:tail --follow`. */
  readonly interrupted?: Promise<void>;
}

/** A refusal the user can act on: one line on stderr, exit 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

export function processIo(): CliIo {
  return {
    env: process.env,
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    interrupted: new Promise((resolve) => process.once('SIGINT', () => resolve())),
  };
}
