import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 14, item 5: an admin may limit an app to a list of resources (RFC 8707 audiences) it may ask for; null is
 * no limit, as before. Expand-only: older instances never read the column, and an app they write keeps null.
 */
export class AppAllowedResources1795810000000 implements MigrationInterface {
  name = 'AppAllowedResources1795810000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "apps" ADD "allowed_resources" text array`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "apps" DROP COLUMN "allowed_resources"`);
  }
}
