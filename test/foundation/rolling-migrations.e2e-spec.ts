import 'reflect-metadata';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { dataSourceOptions, runMigrations } from '../../src/database/data-source-options';
import { MIGRATIONS } from '../../src/database/migrations';
import { freePort, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { createApp, RegisteredApp } from '../helpers/clients';
import { createTestDatabase, dropTestDatabase, sql } from '../helpers/database';
import { createUser, signIn } from '../helpers/identity';
import { exchange, issueTokens, oauthError, pollUntil, refresh, registerApp, revoke, Tokens, userinfo, WITH_REFRESH } from '../helpers/protocol';
import { authorizeAndConsent } from '../helpers/oauth';
import { ServerProcess } from '../helpers/server-process';

jest.setTimeout(240_000);

/**
 * What a newer release would ship, written as its migration would be: expand only. A nullable column on apps, a
 * nullable and a defaulted one on users, a table of its own whose rows die with their app (so the older code's
 * deletions still work), and an index. The older code never reads any of it.
 */
class ExpandNextRelease1799000000000 implements MigrationInterface {
  name = 'ExpandNextRelease1799000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "apps" ADD "tos_uri" text`);
    await queryRunner.query(`ALTER TABLE "users" ADD "locale" character varying(35)`);
    await queryRunner.query(`ALTER TABLE "users" ADD "sign_in_count" integer NOT NULL DEFAULT 0`);
    await queryRunner.query(`CREATE TABLE "app_contacts" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "app_id" uuid NOT NULL,
      "email" character varying(254) NOT NULL, CONSTRAINT "PK_app_contacts" PRIMARY KEY ("id"),
      CONSTRAINT "FK_app_contacts_app_id" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE)`);
    await queryRunner.query(`CREATE INDEX "IDX_app_contacts_app_id" ON "app_contacts" ("app_id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "app_contacts"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "sign_in_count"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "locale"`);
    await queryRunner.query(`ALTER TABLE "apps" DROP COLUMN "tos_uri"`);
  }
}

/** An index on a big table is built without locking writes: CONCURRENTLY, which no transaction may contain. */
class ConcurrentIndex1799000000001 implements MigrationInterface {
  name = 'ConcurrentIndex1799000000001';
  transaction = false as const;

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX CONCURRENTLY "IDX_users_locale" ON "users" ("locale")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX CONCURRENTLY "IDX_users_locale"`);
  }
}

/** What the request helpers need of an instance: its URL. */
const instance = (url: string) => ({ url }) as TestApp;

/**
 * Issue 13 item 3, the rule for migrations during a rolling restart (README, Running in production): while older
 * and newer instances share the database, a migration only expands, and a contract change (a column dropped or
 * renamed) ships in the release after every instance runs code that no longer uses what it removes. Here the
 * "older instance" is this code, as a server process; the newer release's migration is applied from the test,
 * through TypeORM and the same advisory lock, exactly as a newer instance starting up would.
 */
describe('a newer schema under an older instance (expand, then contract)', () => {
  let databaseUrl: string;
  let env: Record<string, string>;
  let older: ServerProcess;
  let t: TestApp;
  let admin: string;
  let alice: { id: string; username: string; password: string };

  const migrationsRecorded = () => sql<{ timestamp: string; name: string }>({ databaseUrl }, 'SELECT timestamp::text, name FROM migrations ORDER BY id');
  const startOlder = async () => {
    older = new ServerProcess(env);
    await older.waitUntilReady(`${t.url}/readyz`, 180_000);
  };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    const port = await freePort();
    t = instance(`http://127.0.0.1:${port}`);
    env = { DATABASE_URL: databaseUrl, PORT: String(port), ISSUER_URL: t.url, BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, OAUTH2_DCR_ENABLED: 'true', SHUTDOWN_DRAIN_DELAY: '0' };
    await startOlder();
    admin = await signIn(t);
    alice = await createUser(t, admin, { username: 'alice' });
  });
  afterAll(async () => {
    older?.kill('SIGTERM');
    await older?.exited;
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  describe('expand', () => {
    let newer: DataSource;
    beforeAll(async () => {
      newer = await new DataSource({ ...dataSourceOptions(databaseUrl), migrations: [...MIGRATIONS, ExpandNextRelease1799000000000] }).initialize();
    });
    afterAll(() => newer?.destroy());

    it('applies the newer release’s migration under the running older instance, recorded as TypeORM records it', async () => {
      const before = await migrationsRecorded();
      expect(before.map((m) => m.name)).toEqual(MIGRATIONS.map((m) => new m().name));
      await runMigrations(newer);
      expect(await migrationsRecorded()).toEqual([...before, { timestamp: '1799000000000', name: 'ExpandNextRelease1799000000000' }]);
      expect((await request(t.url).get('/readyz')).status).toBe(200);
    });

    it('cannot run a migration that opts out of the transaction (CREATE INDEX CONCURRENTLY): it is refused before anything runs', async () => {
      const withConcurrent = await new DataSource({ ...dataSourceOptions(databaseUrl), migrations: [...MIGRATIONS, ExpandNextRelease1799000000000, ConcurrentIndex1799000000001] }).initialize();
      try {
        await expect(runMigrations(withConcurrent)).rejects.toThrow(/ConcurrentIndex1799000000001.*override the transaction mode/);
      } finally {
        await withConcurrent.destroy();
      }
      expect((await migrationsRecorded()).map((m) => m.name)).not.toContain('ConcurrentIndex1799000000001');
      // So such an index is built by hand ahead of the release (the migration then says IF NOT EXISTS).
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        await client.query(`CREATE INDEX CONCURRENTLY "IDX_users_locale" ON "users" ("locale")`);
        const { rows } = await client.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = '"IDX_users_locale"'::regclass`);
        expect(rows).toEqual([{ indisvalid: true }]);
      } finally {
        await client.end();
      }
    });

    it('the newer release writes what it added: values in the new columns', async () => {
      await sql({ databaseUrl }, `UPDATE users SET locale = 'fr-CH', sign_in_count = 3 WHERE username = 'alice'`);
      await sql({ databaseUrl }, `UPDATE apps SET tos_uri = 'https://example.com/tos'`);
      const [{ n }] = await sql<{ n: number }>({ databaseUrl }, `SELECT count(*)::int AS n FROM users WHERE locale = 'fr-CH' AND sign_in_count = 3`);
      expect(n).toBe(1);
    });

    describe('the older instance, still running, against the newer schema', () => {
      let aliceCookie: string;
      let app: RegisteredApp;
      let tokens: Tokens;

      it('signs a user in (a row with values it does not know) and creates a user and an app through the admin API', async () => {
        aliceCookie = await signIn(t, alice.username, alice.password);
        const bob = await createUser(t, admin, { username: 'bob' });
        app = await createApp(t, admin, { name: 'after-expand', grant_types: ['authorization_code', 'refresh_token'] });
        // What the older code inserted took the new columns' defaults.
        expect(await sql({ databaseUrl }, `SELECT locale, sign_in_count FROM users WHERE id = $1`, [bob.id])).toEqual([{ locale: null, sign_in_count: 0 }]);
        expect(await sql({ databaseUrl }, `SELECT tos_uri FROM apps WHERE id = $1`, [app.id])).toEqual([{ tos_uri: null }]);
      });

      it('authorizes with consent and exchanges the code; the code is single use', async () => {
        const { code, verifier } = await authorizeAndConsent(t, app, aliceCookie, WITH_REFRESH);
        const res = await exchange(t, app, code, verifier);
        expect(res.status).toBe(200);
        tokens = res.body as Tokens;
        expect((await userinfo(t, tokens.access_token)).body).toMatchObject({ sub: alice.id });
        // Single use, on another code: a replay revokes what its code minted.
        const other = await authorizeAndConsent(t, app, aliceCookie, WITH_REFRESH);
        expect((await exchange(t, app, other.code, other.verifier)).status).toBe(200);
        expect((await exchange(t, app, other.code, other.verifier)).body).toEqual(oauthError('invalid_grant'));
      });

      it('refreshes, and revokes: the revoked refresh token and access token are refused', async () => {
        const refreshed = await refresh(t, app, tokens.refresh_token!);
        expect(refreshed.status).toBe(200);
        const next = refreshed.body as Tokens;
        expect((await revoke(t, app, next.refresh_token!)).status).toBe(200);
        expect((await refresh(t, app, next.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
        expect((await revoke(t, app, next.access_token)).status).toBe(200);
        expect((await userinfo(t, next.access_token)).status).toBe(401);
      });

      it('registers an app by DCR and takes it through the flow', async () => {
        const registered = await registerApp(t, { grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile offline_access' });
        const issued = await issueTokens(t, registered, aliceCookie);
        expect((await userinfo(t, issued.access_token)).status).toBe(200);
      });

      it('deletes an app that rows of the new table refer to (they go with it)', async () => {
        const doomed = await createApp(t, admin, { name: 'doomed' });
        await sql({ databaseUrl }, `INSERT INTO app_contacts (app_id, email) VALUES ($1, 'ops@example.com')`, [doomed.id]);
        expect((await request(t.url).delete(`/api/v1/oauth2/apps/${doomed.id}`).set('Cookie', admin)).status).toBe(204);
        expect(await sql({ databaseUrl }, `SELECT * FROM app_contacts WHERE app_id = $1`, [doomed.id])).toEqual([]);
      });
    });

    describe('restarted', () => {
      it('the older instance starts against the newer schema: a recorded migration it does not know does not stop it', async () => {
        const recorded = await migrationsRecorded();
        older.kill('SIGTERM');
        expect(await older.exited).toBe(0);
        await startOlder();
        // TypeORM runs what it knows and has not run; a recorded migration it does not know is left alone.
        expect(await migrationsRecorded()).toEqual(recorded);
        expect(older.text).not.toMatch(/migration|error/i);
        const cookie = await signIn(t, alice.username, alice.password);
        const app = await createApp(t, admin, { name: 'after-restart', grant_types: ['authorization_code', 'refresh_token'] });
        const issued = await issueTokens(t, app, cookie);
        expect((await userinfo(t, issued.access_token)).status).toBe(200);
      });
    });
  });

  describe('contract, too early', () => {
    it('a column the older code uses, renamed under it, breaks it: its reads of apps answer 500 and the log names the missing column', async () => {
      const seen = older.text.length;
      await sql({ databaseUrl }, `ALTER TABLE "apps" RENAME COLUMN "display_name" TO "shown_name"`);
      const res = await request(t.url).get('/api/v1/oauth2/apps').set('Cookie', admin);
      expect(res.status).toBe(500);
      expect(JSON.parse(res.text)).toMatchObject({ type: 'internal_server_error', status: 500 });
      // Logs are written asynchronously: wait for the line.
      const { value } = await pollUntil(async () => older.text.slice(seen), (text) => /does not exist/.test(text), 30_000);
      expect(value).toMatch(/"msg":"unhandled error"/);
      expect(value).toMatch(/column \S*display_name\S* does not exist/);
      // Which is why a contract migration ships only in the release after every instance stopped using the column.
    });
  });
});
