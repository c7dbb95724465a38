import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 12 (pages): an admin can review a self-registered app (POST /api/v1/oauth2/apps/{id}/review), which makes
 * it an app of the organisation like one an admin added. When that happened is kept: the consent page and the
 * admin API say so. Expand-only: older instances never read the column.
 */
export class AppReview1795700000000 implements MigrationInterface {
  name = 'AppReview1795700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "apps" ADD "reviewed_at" TIMESTAMP WITH TIME ZONE`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "apps" DROP COLUMN "reviewed_at"`);
  }
}
