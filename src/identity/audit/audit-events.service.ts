import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Clock } from '../../common/clock';
import { forbidden, validationError } from '../../common/problem/problem';
import { isUuid } from '../../common/uuid';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { deleteInBatches, Pruned } from '../../database/batched-delete';
import type { Principal } from '../auth/principal';
import { AuditEventEntity } from './audit-event.entity';
import { AuditEventDto, AuditEventFilterDto, AuditEventPageDto, AuditEventQueryDto } from './dto/audit-event.dto';

/** Where a page ended: the last event's exact time (microseconds, as PostgreSQL keeps it) and id. */
interface Position {
  readonly at: string;
  readonly id: string;
}

const EXACT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * Reading the audit trail: the admin's list of every event, and a user's list of their own (the events about them
 * and those they caused). Newest first, in pages that follow a cursor on (occurred_at, id) — the table's index —
 * so a page never repeats or skips an event, however many arrive meanwhile. Old events are pruned after
 * AUDIT_RETENTION.
 */
@Injectable()
export class AuditEventsService {
  constructor(
    @InjectRepository(AuditEventEntity) private readonly events: Repository<AuditEventEntity>,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  list(query: AuditEventQueryDto): Promise<AuditEventPageDto> {
    return this.page(query, (p) => [
      ...(query.actor !== undefined ? [`actor_id = ${p(query.actor)}`] : []),
      ...(query.subject !== undefined ? [`subject_user_id = ${p(query.subject)}`] : []),
    ]);
  }

  /** The caller's own events: about them, or done by them. A service account has none of its own to read here. */
  listMine(principal: Principal, query: AuditEventFilterDto): Promise<AuditEventPageDto> {
    if (principal.kind !== 'user') throw forbidden('Only a user has audit events of their own');
    const me = principal.userId;
    return this.page(query, (p) => [`(subject_user_id = ${p(me)} OR (actor_type = 'user' AND actor_id = ${p(me)}))`]);
  }

  /** Events older than AUDIT_RETENTION, in bounded batches like every other pruning. */
  pruneExpired(): Promise<Pruned> {
    const cutoff = new Date(this.clock.now().getTime() - this.config.audit.retentionSeconds * 1000);
    return deleteInBatches(this.events.manager, 'audit_events', 'id', 'occurred_at < $1', [cutoff]);
  }

  /** `scope(p)`: the list's own conditions, `p` numbering each parameter. */
  private async page(query: AuditEventFilterDto, scope: (p: (value: unknown) => string) => string[]): Promise<AuditEventPageDto> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const params: unknown[] = [];
    const p = (value: unknown) => `$${params.push(value)}`;
    const where = scope(p);
    if (query.from !== undefined) where.push(`occurred_at >= ${p(instant(query.from, 'from'))}`);
    if (query.to !== undefined) where.push(`occurred_at < ${p(instant(query.to, 'to'))}`);
    if (query.client_id !== undefined) where.push(`client_id = ${p(query.client_id)}`);
    if (query.types !== undefined) where.push(`type = ANY(${p(query.types)}::text[])`);
    if (after) where.push(`(occurred_at, id) < (${p(after.at)}::timestamptz, ${p(after.id)}::uuid)`);
    const rows = await this.events.query(
      `SELECT id, occurred_at, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position, type, outcome,
              actor_type, actor_id, actor_name, subject_user_id, client_id, source_address, request_id, details
         FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY occurred_at DESC, id DESC
        LIMIT ${p(query.limit + 1)}`,
      params,
    ) as (Row & { position: string })[];
    const items = rows.slice(0, query.limit);
    const last = items[items.length - 1];
    return {
      items: items.map((row) => AuditEventDto.from(entityOf(row))),
      next_cursor: rows.length > query.limit && last ? encodeCursor({ at: last.position, id: last.id }) : null,
    };
  }
}

/** ISO 8601 allows forms (week dates, ordinal dates) that name no instant JavaScript reads: those are refused. */
function instant(value: string, field: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw validationError([{ name: field, error: 'invalid_value', title: `${field} must be an ISO 8601 date and time, such as 2026-01-01T00:00:00Z`, pointer: `/${field}` }]);
  }
  return date;
}

interface Row {
  id: string;
  occurred_at: Date;
  type: AuditEventEntity['type'];
  outcome: AuditEventEntity['outcome'];
  actor_type: AuditEventEntity['actorType'];
  actor_id: string | null;
  actor_name: string | null;
  subject_user_id: string | null;
  client_id: string | null;
  source_address: string | null;
  request_id: string | null;
  details: AuditEventEntity['details'];
}

function entityOf(row: Row): AuditEventEntity {
  return {
    id: row.id,
    occurredAt: new Date(row.occurred_at),
    type: row.type,
    outcome: row.outcome,
    actorType: row.actor_type,
    actorId: row.actor_id,
    actorName: row.actor_name,
    subjectUserId: row.subject_user_id,
    clientId: row.client_id,
    sourceAddress: row.source_address,
    requestId: row.request_id,
    details: row.details,
  };
}

/** Opaque to callers: base64url of the last event's exact time and id. */
function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && EXACT_TIME.test(value[0]) && typeof value[1] === 'string' && isUuid(value[1])) {
      return { at: value[0], id: value[1] };
    }
  } catch {
    // not JSON: refused below
  }
  throw validationError([{ name: 'cursor', error: 'invalid_value', title: 'cursor must be the next_cursor of an earlier page', pointer: '/cursor' }]);
}
