import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 14 (a registry that stays clean): a public client registering again from the same address with the same
 * metadata within OAUTH2_DCR_REUSE_WINDOW is answered the client it registered before. Such an app keeps a digest
 * of both, found by a partial index that holds only those apps. Expand-only: older instances never read the
 * column, and the apps they register carry none, so they are never handed back.
 */
export class RegistrationDigest1796000000000 implements MigrationInterface {
  name = 'RegistrationDigest1796000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "apps" ADD "registration_digest" character varying(64)`);
    await queryRunner.query(`CREATE INDEX "IDX_apps_registration_digest" ON "apps" ("registration_digest") WHERE "registration_digest" IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_apps_registration_digest"`);
    await queryRunner.query(`ALTER TABLE "apps" DROP COLUMN "registration_digest"`);
  }
}
