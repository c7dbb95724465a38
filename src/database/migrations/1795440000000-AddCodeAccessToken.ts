import { MigrationInterface, QueryRunner } from 'typeorm';

/** Remember the access token minted from a code, so that a replayed code can deny it. */
export class AddCodeAccessToken1795440000000 implements MigrationInterface {
  name = 'AddCodeAccessToken1795440000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "authorization_codes" ADD "access_token_jti" character varying(64)`);
    await queryRunner.query(`ALTER TABLE "authorization_codes" ADD "access_token_expires_at" TIMESTAMP WITH TIME ZONE`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "authorization_codes" DROP COLUMN "access_token_expires_at"`);
    await queryRunner.query(`ALTER TABLE "authorization_codes" DROP COLUMN "access_token_jti"`);
  }
}
