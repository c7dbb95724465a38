import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager, EntitySubscriberInterface, QueryRunner, TransactionCommitEvent, TransactionRollbackEvent } from 'typeorm';
import { returnedRows } from '../../common/database';
import { currentAuditScope } from './audit-context';
import { AuditEventEntity } from './audit-event.entity';
import { ANONYMOUS_ACTOR, AUDIT_EVENT_TYPES, AuditActor, AuditDetails, AuditEventType, AuditOutcome, SYSTEM_ACTOR } from './audit-event-types';

/** What a service says about a change it makes; the trail adds who, where, when and the request. */
export interface AuditEventInput {
  readonly type: AuditEventType;
  /** Who acted, when the service knows better than the request (the user signing in, a client registering itself). */
  readonly actor?: AuditActor;
  readonly subjectUserId?: string | null;
  readonly clientId?: string | null;
  readonly details?: AuditDetails;
}

/** An event as stored and as logged. */
export interface AuditEvent {
  readonly id: string;
  readonly occurredAt: Date;
  readonly type: AuditEventType;
  readonly outcome: AuditOutcome;
  readonly actor: { readonly type: AuditActor['type']; readonly id: string | null; readonly name: string | null };
  readonly subjectUserId: string | null;
  readonly clientId: string | null;
  readonly sourceAddress: string | null;
  readonly requestId: string | null;
  readonly details: AuditDetails;
}

const INSERT = `
  INSERT INTO audit_events (id, type, outcome, actor_type, actor_id, actor_name, subject_user_id, client_id, source_address, request_id, details)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
  RETURNING occurred_at`;

/** Column bounds: a name or address longer than its column is cut, never a reason for the change to fail. */
const cut = (value: string | null | undefined, length: number): string | null => (value == null ? null : value.slice(0, length));

/**
 * The audit trail (issue 15 item 3). A service records an event with the EntityManager of the transaction that
 * makes the change, so the event exists exactly when the change does. Each event is also written as one log line
 * (`{ audit: event }`, "audit event") — only once its transaction has committed, so a change that rolled back
 * leaves no line claiming it happened. An event with no change of its own (a failed sign-in, a detected replay
 * with nothing to undo) is recorded alone.
 *
 * Who acted comes from the audit scope (audit-context.ts): whoever authenticated the request, `system` outside
 * one, `cli` inside `runAsCli`. A service may name the actor itself where the request has none yet.
 */
@Injectable()
export class AuditTrail {
  private readonly logger = new Logger('AuditTrail');
  /** Events recorded in a transaction still open, with the depth they were recorded at (savepoints). */
  private readonly pending = new WeakMap<QueryRunner, { event: AuditEvent; depth: number }[]>();

  constructor(private readonly dataSource: DataSource) {
    dataSource.subscribers.push(this.transactionListener());
  }

  /** Records the event in `manager`'s transaction (or at once, when it has none) and logs it once that commits. */
  async record(manager: EntityManager, input: AuditEventInput): Promise<AuditEvent> {
    const scope = currentAuditScope();
    const actor = input.actor ?? scope?.actor ?? (scope ? ANONYMOUS_ACTOR : SYSTEM_ACTOR);
    const event: Omit<AuditEvent, 'occurredAt'> = {
      id: randomUUID(),
      type: input.type,
      outcome: AUDIT_EVENT_TYPES[input.type].outcome,
      actor: { type: actor.type, id: cut(actor.id, 1024), name: cut(actor.name, 200) },
      subjectUserId: input.subjectUserId ?? null,
      clientId: cut(input.clientId, 1024),
      sourceAddress: cut(scope?.sourceAddress, 64),
      requestId: cut(scope?.requestId, 128),
      details: input.details ?? {},
    };
    const [row] = returnedRows<{ occurred_at: Date }>(await manager.query(INSERT, [
      event.id, event.type, event.outcome, event.actor.type, event.actor.id, event.actor.name, event.subjectUserId,
      event.clientId, event.sourceAddress, event.requestId, JSON.stringify(event.details),
    ]));
    const recorded: AuditEvent = { ...event, occurredAt: new Date(row.occurred_at) };
    const runner = manager.queryRunner;
    if (runner?.isTransactionActive) {
      const events = this.pending.get(runner) ?? [];
      events.push({ event: recorded, depth: depthOf(runner) });
      this.pending.set(runner, events);
    } else {
      this.log(recorded);
    }
    return recorded;
  }

  /** An event with no change of its own to join: stored (and logged) at once. */
  recordAlone(input: AuditEventInput): Promise<AuditEvent> {
    return this.record(this.dataSource.manager, input);
  }

  private log(event: AuditEvent): void {
    this.logger.log({ audit: event }, 'audit event');
  }

  /**
   * TypeORM tells its subscribers when a transaction commits or rolls back, savepoints included: the events of a
   * committed transaction are logged, those of a rolled-back one (or savepoint) forgotten. Listening to no entity
   * keeps it out of every entity event.
   */
  private transactionListener(): EntitySubscriberInterface {
    return {
      listenTo: () => AuditEventEntity,
      afterTransactionCommit: ({ queryRunner }: TransactionCommitEvent) => {
        const events = this.pending.get(queryRunner);
        if (!events || queryRunner.isTransactionActive) return; // a savepoint released: the outer transaction decides
        this.pending.delete(queryRunner);
        for (const { event } of events) this.log(event);
      },
      afterTransactionRollback: ({ queryRunner }: TransactionRollbackEvent) => {
        const events = this.pending.get(queryRunner);
        if (!events) return;
        if (!queryRunner.isTransactionActive) this.pending.delete(queryRunner);
        else this.pending.set(queryRunner, events.filter((e) => e.depth <= depthOf(queryRunner)));
      },
    };
  }
}

/** How deep in savepoints the runner is: 1 in a plain transaction. TypeORM keeps it protected. */
function depthOf(runner: QueryRunner): number {
  return (runner as unknown as { transactionDepth?: number }).transactionDepth ?? 1;
}
