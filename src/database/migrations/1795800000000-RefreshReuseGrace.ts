import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 14 (refresh that survives agents): with OAUTH2_REFRESH_REUSE_GRACE set, a rotated refresh token keeps the
 * random key its successor was derived from (HMAC-SHA256 of the token itself), so the same client presenting it
 * again within the window can be answered the same successor. Expand-only: older instances never read the column,
 * and the tokens they rotate carry none, which is strict rotation.
 */
export class RefreshReuseGrace1795800000000 implements MigrationInterface {
  name = 'RefreshReuseGrace1795800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "refresh_tokens" ADD "successor_key" bytea`);
    // Housekeeping forgets the keys once their window has passed; it finds them here, not by scanning the table.
    await queryRunner.query(`CREATE INDEX "IDX_refresh_tokens_successor_key_rotated_at" ON "refresh_tokens" ("rotated_at") WHERE "successor_key" IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_refresh_tokens_successor_key_rotated_at"`);
    await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP COLUMN "successor_key"`);
  }
}
