import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';

/** Where the LISTEN connection goes: DATABASE_LISTEN_URL, or the database itself. */
export const LISTEN_URL = Symbol('LISTEN_URL');

export interface ChannelSubscriber {
  /** A notification arrived on the channel. */
  onNotification(payload: string): void;
  /**
   * The listening connection was (re)established. Notifications sent while it was down are lost, so a
   * subscriber reloads its state from the tables here.
   */
  onConnected(): Promise<void> | void;
}

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;

/**
 * PostgreSQL LISTEN/NOTIFY on one dedicated connection: how one instance tells the others, within milliseconds,
 * that a token was revoked or a signing key rotated. Every instance shares only the database, so nothing else
 * (no broker) is needed.
 */
@Injectable()
export class DatabaseNotifications implements OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseNotifications.name);
  private readonly subscribers = new Map<string, ChannelSubscriber[]>();
  private client?: Client;
  private connecting?: Promise<void>;
  private closed = false;
  private delay = RECONNECT_MIN_MS;
  /** A retry is scheduled or running. */
  private retrying = false;
  /** The tail of the queries sent on the listening connection: one at a time (pg deprecates overlapping ones). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(@Inject(LISTEN_URL) private readonly url: string) {}

  /** Subscribes and waits until the channel is listened to and the subscriber has loaded its state. */
  async subscribe(channel: string, subscriber: ChannelSubscriber): Promise<void> {
    assertChannel(channel);
    const list = this.subscribers.get(channel) ?? [];
    list.push(subscriber);
    this.subscribers.set(channel, list);
    await this.connect();
    await this.query(`LISTEN ${channel}`);
    await subscriber.onConnected();
  }

  /**
   * Resolves once every notification committed before the call has been handled here. PostgreSQL sends a
   * listening connection its pending notifications before the answer to its next query, so one round trip on it
   * is enough: after a deletion whose trigger denied tokens, this instance knows before it answers.
   */
  async flush(): Promise<void> {
    await this.query('SELECT 1').catch(() => undefined);
  }

  /** Whether the listening connection is up now (a resync follows each reconnect). */
  get connected(): boolean {
    return this.client !== undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => undefined);
  }

  private query(sql: string): Promise<void> {
    const run = this.queue.then(() => this.client?.query(sql)).then(() => undefined);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private connect(): Promise<void> {
    if (this.client) return Promise.resolve();
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<void> {
    // Named, so an operator (and the fault tests) can tell the listening connection in pg_stat_activity.
    const client = new Client({ connectionString: this.url, application_name: 'portcullis-listener' });
    client.on('notification', (message) => {
      for (const subscriber of this.subscribers.get(message.channel) ?? []) subscriber.onNotification(message.payload ?? '');
    });
    client.on('error', (err) => this.logger.warn({ err }, 'notification connection failed'));
    // Only the end of an established connection starts the retries. A connection that never got that far ends
    // too, and its failed attempt already schedules the next one: were both to, every failure would add a retry
    // loop, and after an outage each loop would resync on its own.
    client.on('end', () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      for (const channel of this.subscribers.keys()) await client.query(`LISTEN ${channel}`);
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    this.client = client;
    this.delay = RECONNECT_MIN_MS;
  }

  /** One retry at a time, whatever asked for it: a lost connection, a failed attempt, a failed resync. */
  private scheduleReconnect(): void {
    if (this.retrying || this.closed) return;
    this.retrying = true;
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS);
    setTimeout(() => void this.reconnect(), delay).unref();
  }

  private async reconnect(): Promise<void> {
    if (this.closed) return;
    try {
      await this.connect();
      for (const list of this.subscribers.values()) for (const s of list) await s.onConnected();
      this.logger.log('notification connection re-established');
      this.retrying = false;
      // Lost again while the subscribers resynced: its end found this retry still running.
      if (!this.client) this.scheduleReconnect();
    } catch {
      this.retrying = false;
      this.scheduleReconnect();
    }
  }
}

function assertChannel(channel: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
}
