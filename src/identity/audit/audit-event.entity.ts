import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { AuditActorType, AuditDetails, AuditEventType, AuditOutcome } from './audit-event-types';

/**
 * One security event (issue 15 item 3): who did what, when, to whom, through which client, from where, in which
 * request, and how it ended. Written in the transaction of the change it records. No foreign keys: an event
 * outlives the user, app or session it describes. Never a secret: details hold names, ids and counts.
 */
@Entity({ name: 'audit_events' })
@Index('IDX_audit_events_occurred_at_id', ['occurredAt', 'id'])
@Index('IDX_audit_events_actor_id', ['actorId'])
@Index('IDX_audit_events_subject_user_id', ['subjectUserId'])
@Index('IDX_audit_events_client_id', ['clientId'])
@Index('IDX_audit_events_type', ['type'])
export class AuditEventEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'PK_audit_events' })
  id!: string;

  /** The transaction's time (`now()`): the events of one change share it, and `id` orders them. */
  @Column({ name: 'occurred_at', type: 'timestamptz', default: () => 'now()' })
  occurredAt!: Date;

  @Column({ type: 'varchar', length: 64 })
  type!: AuditEventType;

  @Column({ type: 'varchar', length: 8 })
  outcome!: AuditOutcome;

  @Column({ name: 'actor_type', type: 'varchar', length: 16 })
  actorType!: AuditActorType;

  /** A user's or service account's id, or a client's client_id (a metadata-document URL is one). */
  @Column({ name: 'actor_id', type: 'varchar', length: 1024, nullable: true })
  actorId!: string | null;

  @Column({ name: 'actor_name', type: 'varchar', length: 200, nullable: true })
  actorName!: string | null;

  /** The user the event is about. */
  @Column({ name: 'subject_user_id', type: 'uuid', nullable: true })
  subjectUserId!: string | null;

  @Column({ name: 'client_id', type: 'varchar', length: 1024, nullable: true })
  clientId!: string | null;

  @Column({ name: 'source_address', type: 'varchar', length: 64, nullable: true })
  sourceAddress!: string | null;

  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true })
  requestId!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details!: AuditDetails;
}
