import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 10 (trust):
 * - `users.tokens_not_before`: a lowered role or a new password refuses every older token about the user;
 * - consent memory covers RFC 8707 resources as it covers scopes (`grants.resources`);
 * - a row that carries a live access token — a refresh token or a redeemed code — denies that token when it is
 *   deleted, whatever deletes it (an app or a user removed, the DCR sweep, a revoked grant): the deny-list row and
 *   the NOTIFY to every instance commit in the same transaction as the deletion (SPEC §7 "every token dies with
 *   what it came from");
 * - an app's deletion denies its client_id as a whole, for the tokens no row records (client_credentials);
 * - the sign-in, registration and client-authentication counters live in PostgreSQL (rate-limiter-flexible's
 *   table layout), so they hold under concurrency and across instances.
 */
export class TokensDieWithTheirSource1795500000000 implements MigrationInterface {
  name = 'TokensDieWithTheirSource1795500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "grants" ADD "resources" text array NOT NULL DEFAULT '{}'`);
    await queryRunner.query(`ALTER TABLE "users" ADD "tokens_not_before" TIMESTAMP WITH TIME ZONE`);

    await queryRunner.query(`
      CREATE FUNCTION "deny_access_token_of_deleted_row"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- A revoked refresh token's access token was denied when it was revoked (codes have no revoked_at).
        IF OLD.access_token_jti IS NOT NULL AND OLD.access_token_expires_at > now() AND to_jsonb(OLD)->>'revoked_at' IS NULL THEN
          INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (OLD.access_token_jti, OLD.access_token_expires_at)
            ON CONFLICT (jti) DO NOTHING;
          PERFORM pg_notify('portcullis_revoked_access_tokens',
            OLD.access_token_jti || ' ' || floor(extract(epoch FROM OLD.access_token_expires_at) * 1000)::bigint);
        END IF;
        RETURN OLD;
      END $$`);
    await queryRunner.query(`CREATE TRIGGER "TR_refresh_tokens_deny_on_delete" AFTER DELETE ON "refresh_tokens"
      FOR EACH ROW EXECUTE FUNCTION "deny_access_token_of_deleted_row"()`);
    await queryRunner.query(`CREATE TRIGGER "TR_authorization_codes_deny_on_delete" AFTER DELETE ON "authorization_codes"
      FOR EACH ROW EXECUTE FUNCTION "deny_access_token_of_deleted_row"()`);

    // Tokens no row records (client_credentials) die with their app too: its client_id is denied as a whole. Client
    // ids are random and never reused, so a year outlasts any access token.
    await queryRunner.query(`
      CREATE FUNCTION "deny_client_of_deleted_app"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ('client:' || OLD.client_id, now() + interval '366 days')
          ON CONFLICT (jti) DO NOTHING;
        PERFORM pg_notify('portcullis_revoked_access_tokens',
          'client:' || OLD.client_id || ' ' || floor(extract(epoch FROM now() + interval '366 days') * 1000)::bigint);
        RETURN OLD;
      END $$`);
    await queryRunner.query(`CREATE TRIGGER "TR_apps_deny_client_on_delete" AFTER DELETE ON "apps"
      FOR EACH ROW EXECUTE FUNCTION "deny_client_of_deleted_app"()`);

    await queryRunner.query(`CREATE TABLE "rate_limits" ("key" character varying(255) NOT NULL, "points" integer NOT NULL DEFAULT 0, "expire" bigint, CONSTRAINT "PK_rate_limits" PRIMARY KEY ("key"))`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "rate_limits"`);
    await queryRunner.query(`DROP TRIGGER "TR_apps_deny_client_on_delete" ON "apps"`);
    await queryRunner.query(`DROP FUNCTION "deny_client_of_deleted_app"()`);
    await queryRunner.query(`DROP TRIGGER "TR_authorization_codes_deny_on_delete" ON "authorization_codes"`);
    await queryRunner.query(`DROP TRIGGER "TR_refresh_tokens_deny_on_delete" ON "refresh_tokens"`);
    await queryRunner.query(`DROP FUNCTION "deny_access_token_of_deleted_row"()`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "tokens_not_before"`);
    await queryRunner.query(`ALTER TABLE "grants" DROP COLUMN "resources"`);
  }
}
