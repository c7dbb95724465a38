import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 14: a client may be identified by the URL of its metadata document (draft-ietf-oauth-client-id-metadata-
 * document). Its client_id is that URL, so `apps.client_id` widens to 1024 characters, and so does the deny list's
 * key, which holds `client:<client_id>` when an app is deleted (migration TokensDieWithTheirSource). The copy of a
 * document is kept on its app with when it was fetched and until when it is fresh.
 */
export class ClientIdMetadataDocuments1795900000000 implements MigrationInterface {
  name = 'ClientIdMetadataDocuments1795900000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // contract: widening a varchar keeps every value an older instance reads or writes valid, and PostgreSQL only
    // changes the catalog (no table rewrite); older instances never see a longer value, since only documents make one.
    await queryRunner.query(`ALTER TABLE "apps" ALTER COLUMN "client_id" TYPE character varying(1024)`);
    // contract: the same widening, for `client:<client_id>` of a deleted document-identified app.
    await queryRunner.query(`ALTER TABLE "revoked_access_tokens" ALTER COLUMN "jti" TYPE character varying(1024)`);
    await queryRunner.query(`ALTER TABLE "apps" ADD "metadata_fetched_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "apps" ADD "metadata_expires_at" TIMESTAMP WITH TIME ZONE`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "apps" WHERE "provenance" = 'cimd'`);
    await queryRunner.query(`DELETE FROM "revoked_access_tokens" WHERE length("jti") > 64`);
    await queryRunner.query(`ALTER TABLE "apps" DROP COLUMN "metadata_expires_at"`);
    await queryRunner.query(`ALTER TABLE "apps" DROP COLUMN "metadata_fetched_at"`);
    await queryRunner.query(`ALTER TABLE "revoked_access_tokens" ALTER COLUMN "jti" TYPE character varying(64)`);
    await queryRunner.query(`ALTER TABLE "apps" ALTER COLUMN "client_id" TYPE character varying(64)`);
  }
}
