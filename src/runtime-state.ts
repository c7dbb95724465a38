import { INestApplicationContext } from '@nestjs/common';
import { TableChanges } from './database/cached-rows';
import { DatabaseNotifications } from './database/notifications.service';
import { AccessTokenDenyList } from './grants/access-token-deny-list.service';
import { AccessTokensService } from './token/access-tokens.service';

/**
 * What this instance holds in memory, for an operator (`kill -USR2 <pid>` prints it as one JSON line) and the
 * soak (bench/soak.ts), which compares the deny set of every instance with the table. Counts only, never a value.
 */
export interface RuntimeState {
  readonly pid: number;
  readonly listening: boolean;
  /** Denied tokens not yet expired, and the entries held (expired ones wait for the next pruning). */
  readonly deniedTokens: number;
  readonly deniedEntries: number;
  readonly rememberedTokens: number;
  readonly cachedRows: Record<string, number>;
  readonly memoryMiB: { readonly rss: number; readonly heapUsed: number };
}

export function runtimeState(app: INestApplicationContext): RuntimeState {
  // Under `node --expose-gc` (the soak) the heap is measured after a full collection, so it shows what is kept.
  (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  const denyList = app.get(AccessTokenDenyList, { strict: false });
  const mib = (bytes: number) => Math.round(bytes / 1048576);
  return {
    pid: process.pid,
    listening: app.get(DatabaseNotifications, { strict: false }).connected,
    deniedTokens: denyList.liveCount,
    deniedEntries: denyList.heldCount,
    rememberedTokens: app.get(AccessTokensService, { strict: false }).rememberedCount,
    cachedRows: app.get(TableChanges, { strict: false }).sizes(),
    memoryMiB: { rss: mib(memory.rss), heapUsed: mib(memory.heapUsed) },
  };
}
