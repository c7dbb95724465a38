import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 11 (fast): apps and users are served from memory on every instance. Any change to either table that a
 * cached copy could miss — an update of anything but the usage timestamps, or a deletion, whichever code or
 * cascade makes it — sends the table's name on `portcullis_table_changes` in the changing transaction, and every
 * instance drops its copies when that transaction commits.
 */
export class CachedRowsChangeFeed1795600000000 implements MigrationInterface {
  name = 'CachedRowsChangeFeed1795600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION "notify_table_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- PostgreSQL sends identical notifications of one transaction once, however many rows changed.
        PERFORM pg_notify('portcullis_table_changes', TG_TABLE_NAME);
        RETURN NULL;
      END $$`);
    // last_used_at is written behind in batches; it is not part of what a cached app answers for.
    await queryRunner.query(`CREATE TRIGGER "TR_apps_changed" AFTER UPDATE ON "apps" FOR EACH ROW
      WHEN ((to_jsonb(OLD) - 'last_used_at' - 'updated_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at' - 'updated_at'))
      EXECUTE FUNCTION "notify_table_changed"()`);
    await queryRunner.query(`CREATE TRIGGER "TR_apps_deleted" AFTER DELETE ON "apps" FOR EACH STATEMENT EXECUTE FUNCTION "notify_table_changed"()`);
    await queryRunner.query(`CREATE TRIGGER "TR_users_changed" AFTER UPDATE OR DELETE ON "users" FOR EACH STATEMENT EXECUTE FUNCTION "notify_table_changed"()`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "TR_users_changed" ON "users"`);
    await queryRunner.query(`DROP TRIGGER "TR_apps_deleted" ON "apps"`);
    await queryRunner.query(`DROP TRIGGER "TR_apps_changed" ON "apps"`);
    await queryRunner.query(`DROP FUNCTION "notify_table_changed"()`);
  }
}
