import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 15 item 3 (an audit trail): security events, written in the transaction of the change each records. No
 * foreign keys, so events outlive the users, apps and sessions they describe. Indexed for the admin API's filters
 * and for its pagination newest first by (occurred_at, id), which pruning by age uses too. Expand-only: a new
 * table that older instances neither read nor write.
 */
export class AuditEvents1796100000000 implements MigrationInterface {
  name = 'AuditEvents1796100000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "audit_events" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "type" character varying(64) NOT NULL, "outcome" character varying(8) NOT NULL, "actor_type" character varying(16) NOT NULL, "actor_id" character varying(1024), "actor_name" character varying(200), "subject_user_id" uuid, "client_id" character varying(1024), "source_address" character varying(64), "request_id" character varying(128), "details" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "PK_audit_events" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "IDX_audit_events_occurred_at_id" ON "audit_events" ("occurred_at", "id")`);
    await queryRunner.query(`CREATE INDEX "IDX_audit_events_actor_id" ON "audit_events" ("actor_id")`);
    await queryRunner.query(`CREATE INDEX "IDX_audit_events_subject_user_id" ON "audit_events" ("subject_user_id")`);
    await queryRunner.query(`CREATE INDEX "IDX_audit_events_client_id" ON "audit_events" ("client_id")`);
    await queryRunner.query(`CREATE INDEX "IDX_audit_events_type" ON "audit_events" ("type")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_events"`);
  }
}
