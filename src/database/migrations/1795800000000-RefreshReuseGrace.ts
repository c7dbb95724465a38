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
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP COLUMN "successor_key"`);
  }
}
