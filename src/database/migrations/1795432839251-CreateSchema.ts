import { MigrationInterface, QueryRunner } from "typeorm";

export class CreateSchema1795432839251 implements MigrationInterface {
    name = 'CreateSchema1795432839251'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "orgs" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(64) NOT NULL, "display_name" character varying(200), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_9eed8bfad4c9e0dc8648e090efe" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE TABLE "apps" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "client_id" character varying(64) NOT NULL, "secret_hash" character varying(72), "name" character varying(200) NOT NULL, "display_name" character varying(200) NOT NULL, "provenance" character varying(8) NOT NULL, "org_id" uuid NOT NULL, "redirect_uris" text array NOT NULL DEFAULT '{}', "grant_types" text array NOT NULL DEFAULT '{authorization_code}', "response_types" text array NOT NULL DEFAULT '{code}', "token_endpoint_auth_method" character varying(32) NOT NULL DEFAULT 'client_secret_basic', "application_type" character varying(8) NOT NULL DEFAULT 'web', "scopes" text array NOT NULL DEFAULT '{}', "logo_uri" text, "client_uri" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "secret_rotated_at" TIMESTAMP WITH TIME ZONE, "last_used_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_c5121fda0f8268f1f7f84134e19" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_apps_provenance_last_used_at" ON "apps" ("provenance", "last_used_at") `);
        await queryRunner.query(`CREATE INDEX "IDX_apps_org_id" ON "apps" ("org_id") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_apps_client_id" ON "apps" ("client_id") `);
        await queryRunner.query(`CREATE TABLE "users" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" uuid NOT NULL, "username" character varying(64) NOT NULL, "password_hash" character varying(72) NOT NULL, "given_name" character varying(100), "family_name" character varying(100), "email" character varying(254), "role" character varying(16) NOT NULL DEFAULT 'user', "registered_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_users_org_id" ON "users" ("org_id") `);
        await queryRunner.query(`CREATE TABLE "grants" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "app_id" uuid NOT NULL, "scopes" text array NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_used_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_a25f5f89eff8b3277f7969b7094" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_grants_app_id" ON "grants" ("app_id") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_grants_user_id_app_id" ON "grants" ("user_id", "app_id") `);
        await queryRunner.query(`CREATE TABLE "authorization_codes" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "code_hash" character(64) NOT NULL, "app_id" uuid NOT NULL, "user_id" uuid NOT NULL, "grant_id" uuid NOT NULL, "redirect_uri" text NOT NULL, "redirect_uri_explicit" boolean NOT NULL DEFAULT true, "code_challenge" character varying(128), "code_challenge_method" character varying(8), "scopes" text array NOT NULL DEFAULT '{}', "nonce" character varying(512), "resources" text array NOT NULL DEFAULT '{}', "auth_time" TIMESTAMP WITH TIME ZONE NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "consumed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_f05b2eb99ad2db12d87544656c4" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_authorization_codes_expires_at" ON "authorization_codes" ("expires_at") `);
        await queryRunner.query(`CREATE INDEX "IDX_authorization_codes_grant_id" ON "authorization_codes" ("grant_id") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_authorization_codes_code_hash" ON "authorization_codes" ("code_hash") `);
        await queryRunner.query(`CREATE TABLE "refresh_tokens" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "token_hash" character(64) NOT NULL, "family_id" uuid NOT NULL, "parent_id" uuid, "grant_id" uuid NOT NULL, "app_id" uuid NOT NULL, "user_id" uuid NOT NULL, "authorization_code_id" uuid, "scopes" text array NOT NULL DEFAULT '{}', "resources" text array NOT NULL DEFAULT '{}', "access_token_jti" character varying(64), "access_token_expires_at" TIMESTAMP WITH TIME ZONE, "auth_time" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "rotated_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_7d8bee0204106019488c4c50ffa" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_refresh_tokens_expires_at" ON "refresh_tokens" ("expires_at") `);
        await queryRunner.query(`CREATE INDEX "IDX_refresh_tokens_authorization_code_id" ON "refresh_tokens" ("authorization_code_id") `);
        await queryRunner.query(`CREATE INDEX "IDX_refresh_tokens_user_id" ON "refresh_tokens" ("user_id") `);
        await queryRunner.query(`CREATE INDEX "IDX_refresh_tokens_grant_id" ON "refresh_tokens" ("grant_id") `);
        await queryRunner.query(`CREATE INDEX "IDX_refresh_tokens_family_id" ON "refresh_tokens" ("family_id") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_refresh_tokens_token_hash" ON "refresh_tokens" ("token_hash") `);
        await queryRunner.query(`CREATE TABLE "browser_sessions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "id_hash" character(64) NOT NULL, "user_id" uuid NOT NULL, "authenticated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_62bb0057d5bf51b68d790563ba3" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_browser_sessions_expires_at" ON "browser_sessions" ("expires_at") `);
        await queryRunner.query(`CREATE INDEX "IDX_browser_sessions_user_id" ON "browser_sessions" ("user_id") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_browser_sessions_id_hash" ON "browser_sessions" ("id_hash") `);
        await queryRunner.query(`CREATE TABLE "service_accounts" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" uuid NOT NULL, "name" character varying(64) NOT NULL, "role" character varying(16) NOT NULL DEFAULT 'user', "token_hash" character(64) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_e2fb216fdc1db94c5e4da7d88fa" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_service_accounts_org_id" ON "service_accounts" ("org_id") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_service_accounts_token_hash" ON "service_accounts" ("token_hash") `);
        await queryRunner.query(`CREATE TABLE "revoked_access_tokens" ("jti" character varying(64) NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "revoked_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_revoked_access_tokens" PRIMARY KEY ("jti"))`);
        await queryRunner.query(`CREATE INDEX "IDX_revoked_access_tokens_expires_at" ON "revoked_access_tokens" ("expires_at") `);
        await queryRunner.query(`CREATE TABLE "signing_keys" ("kid" character varying(64) NOT NULL, "alg" character varying(16) NOT NULL DEFAULT 'ES256', "status" character varying(16) NOT NULL DEFAULT 'active', "public_jwk" jsonb NOT NULL, "private_key" text NOT NULL, "encrypted" boolean NOT NULL DEFAULT false, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "retired_at" TIMESTAMP WITH TIME ZONE, "publish_until" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_signing_keys" PRIMARY KEY ("kid"))`);
        await queryRunner.query(`ALTER TABLE "apps" ADD CONSTRAINT "FK_apps_org_id" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "users" ADD CONSTRAINT "FK_users_org_id" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "grants" ADD CONSTRAINT "FK_grants_user_id" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "grants" ADD CONSTRAINT "FK_grants_app_id" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "authorization_codes" ADD CONSTRAINT "FK_authorization_codes_app_id" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "authorization_codes" ADD CONSTRAINT "FK_authorization_codes_user_id" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "authorization_codes" ADD CONSTRAINT "FK_authorization_codes_grant_id" FOREIGN KEY ("grant_id") REFERENCES "grants"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" ADD CONSTRAINT "FK_refresh_tokens_parent_id" FOREIGN KEY ("parent_id") REFERENCES "refresh_tokens"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" ADD CONSTRAINT "FK_refresh_tokens_grant_id" FOREIGN KEY ("grant_id") REFERENCES "grants"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" ADD CONSTRAINT "FK_refresh_tokens_app_id" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" ADD CONSTRAINT "FK_refresh_tokens_user_id" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" ADD CONSTRAINT "FK_refresh_tokens_authorization_code_id" FOREIGN KEY ("authorization_code_id") REFERENCES "authorization_codes"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "browser_sessions" ADD CONSTRAINT "FK_browser_sessions_user_id" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "service_accounts" ADD CONSTRAINT "FK_service_accounts_org_id" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`);

        // Case-insensitive uniqueness and "at most one active key" are expression / partial indexes, which the
        // entities declare with synchronize: false.
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_orgs_name_lower" ON "orgs" (lower("name"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_users_username_lower" ON "users" (lower("username"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_service_accounts_name_lower" ON "service_accounts" (lower("name"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_signing_keys_one_active" ON "signing_keys" ("status") WHERE "status" = 'active'`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "public"."UQ_signing_keys_one_active"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_service_accounts_name_lower"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_users_username_lower"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_orgs_name_lower"`);
        await queryRunner.query(`ALTER TABLE "service_accounts" DROP CONSTRAINT "FK_service_accounts_org_id"`);
        await queryRunner.query(`ALTER TABLE "browser_sessions" DROP CONSTRAINT "FK_browser_sessions_user_id"`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP CONSTRAINT "FK_refresh_tokens_authorization_code_id"`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP CONSTRAINT "FK_refresh_tokens_user_id"`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP CONSTRAINT "FK_refresh_tokens_app_id"`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP CONSTRAINT "FK_refresh_tokens_grant_id"`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP CONSTRAINT "FK_refresh_tokens_parent_id"`);
        await queryRunner.query(`ALTER TABLE "authorization_codes" DROP CONSTRAINT "FK_authorization_codes_grant_id"`);
        await queryRunner.query(`ALTER TABLE "authorization_codes" DROP CONSTRAINT "FK_authorization_codes_user_id"`);
        await queryRunner.query(`ALTER TABLE "authorization_codes" DROP CONSTRAINT "FK_authorization_codes_app_id"`);
        await queryRunner.query(`ALTER TABLE "grants" DROP CONSTRAINT "FK_grants_app_id"`);
        await queryRunner.query(`ALTER TABLE "grants" DROP CONSTRAINT "FK_grants_user_id"`);
        await queryRunner.query(`ALTER TABLE "users" DROP CONSTRAINT "FK_users_org_id"`);
        await queryRunner.query(`ALTER TABLE "apps" DROP CONSTRAINT "FK_apps_org_id"`);
        await queryRunner.query(`DROP TABLE "signing_keys"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_revoked_access_tokens_expires_at"`);
        await queryRunner.query(`DROP TABLE "revoked_access_tokens"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_service_accounts_token_hash"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_service_accounts_org_id"`);
        await queryRunner.query(`DROP TABLE "service_accounts"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_browser_sessions_id_hash"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_browser_sessions_user_id"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_browser_sessions_expires_at"`);
        await queryRunner.query(`DROP TABLE "browser_sessions"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_refresh_tokens_token_hash"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_refresh_tokens_family_id"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_refresh_tokens_grant_id"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_refresh_tokens_user_id"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_refresh_tokens_authorization_code_id"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_refresh_tokens_expires_at"`);
        await queryRunner.query(`DROP TABLE "refresh_tokens"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_authorization_codes_code_hash"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_authorization_codes_grant_id"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_authorization_codes_expires_at"`);
        await queryRunner.query(`DROP TABLE "authorization_codes"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_grants_user_id_app_id"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_grants_app_id"`);
        await queryRunner.query(`DROP TABLE "grants"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_users_org_id"`);
        await queryRunner.query(`DROP TABLE "users"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_apps_client_id"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_apps_org_id"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_apps_provenance_last_used_at"`);
        await queryRunner.query(`DROP TABLE "apps"`);
        await queryRunner.query(`DROP TABLE "orgs"`);
    }

}
