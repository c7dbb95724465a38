import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsInt, IsISO8601, IsOptional, IsString, IsUUID, Length, Max, MaxLength, Min, Validate, ValidationArguments, ValidatorConstraint, ValidatorConstraintInterface,
} from 'class-validator';
import { AUDIT_ACTOR_TYPES, AUDIT_EVENT_TYPE_NAMES, AuditActorType, AuditDetails, AuditEventType, AuditOutcome, isAuditEventType } from '../audit-event-types';
import type { AuditEventEntity } from '../audit-event.entity';

/** `type=sign_in.failed,sign_in.locked_out`: one or several known event types, comma-separated. */
@ValidatorConstraint({ name: 'auditEventTypes' })
export class AuditEventTypeList implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && value.split(',').every((t) => isAuditEventType(t.trim()));
  }
  defaultMessage(args: ValidationArguments): string {
    const unknown = typeof args.value === 'string' ? args.value.split(',').map((t) => t.trim()).filter((t) => !isAuditEventType(t)) : [];
    return `${args.property} must be one or several of the event types, comma-separated${unknown.length ? `; unknown: ${unknown.slice(0, 3).join(', ').slice(0, 200)}` : ''}`;
  }
}

const ISO_8601 = { strict: true, strictSeparator: true };

/** The filters both lists share: a time range, a client, event types, and a page. */
export class AuditEventFilterDto {
  // No examples on the filters: Swagger UI would fill them in, and "Try it out" would find nothing.
  @ApiPropertyOptional({ format: 'date-time', description: 'ISO 8601 (`2026-01-01T00:00:00Z`): events at or after this time' })
  @IsOptional()
  @IsISO8601(ISO_8601)
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'ISO 8601: events before this time' })
  @IsOptional()
  @IsISO8601(ISO_8601)
  to?: string;

  @ApiPropertyOptional({ description: 'The app concerned: its client_id' })
  @IsOptional()
  @IsString()
  @Length(1, 1024)
  client_id?: string;

  @ApiPropertyOptional({ description: `One or several event types, comma-separated (\`sign_in.failed,sign_in.locked_out\`): ${AUDIT_EVENT_TYPE_NAMES.join(', ')}` })
  @IsOptional()
  @IsString()
  @Validate(AuditEventTypeList)
  type?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit: number = 50;

  @ApiPropertyOptional({ description: 'The `next_cursor` of the page before; absent for the first page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  /** The types asked for, or undefined for every type. */
  get types(): AuditEventType[] | undefined {
    return this.type === undefined ? undefined : [...new Set(this.type.split(',').map((t) => t.trim() as AuditEventType))];
  }
}

/** The admin's list: every event, also by who acted and whom it was about. */
export class AuditEventQueryDto extends AuditEventFilterDto {
  @ApiPropertyOptional({ description: "Who acted: a user's or service account's id, or a client's client_id" })
  @IsOptional()
  @IsString()
  @Length(1, 1024)
  actor?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'The user the event is about' })
  @IsOptional()
  @IsUUID()
  subject?: string;
}

export class AuditActorDto {
  @ApiProperty({ enum: AUDIT_ACTOR_TYPES }) type!: AuditActorType;
  @ApiProperty({ type: String, nullable: true, description: "A user's or service account's id, or a client's client_id" }) id!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'A username, service account or client name; the OS user for `cli`' }) name!: string | null;
}

export class AuditEventDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'date-time' }) occurred_at!: string;
  @ApiProperty({ enum: AUDIT_EVENT_TYPE_NAMES }) type!: AuditEventType;
  @ApiProperty({ enum: ['success', 'failure'] }) outcome!: AuditOutcome;
  @ApiProperty({ type: AuditActorDto }) actor!: AuditActorDto;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'The user the event is about' }) subject_user_id!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The app concerned' }) client_id!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The caller\'s address (through TRUST_PROXY)' }) source_address!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The X-Request-Id of the request that caused it' }) request_id!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Small and never secret: changed field names, scopes, provenance, counts', example: { fields: ['email', 'password'] } })
  details!: AuditDetails;

  static from(row: AuditEventEntity): AuditEventDto {
    return {
      id: row.id,
      occurred_at: row.occurredAt.toISOString(),
      type: row.type,
      outcome: row.outcome,
      actor: { type: row.actorType, id: row.actorId, name: row.actorName },
      subject_user_id: row.subjectUserId,
      client_id: row.clientId,
      source_address: row.sourceAddress,
      request_id: row.requestId,
      details: row.details,
    };
  }
}

export class AuditEventPageDto {
  @ApiProperty({ type: [AuditEventDto], description: 'Newest first' }) items!: AuditEventDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page; null on the last page' }) next_cursor!: string | null;
}
