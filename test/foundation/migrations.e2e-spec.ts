import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions, runMigrations } from '../../src/database/data-source-options';
import { createTestDatabase, dropTestDatabase } from '../helpers/database';

const TABLES = [
  'apps', 'audit_events', 'authorization_codes', 'browser_sessions', 'grants', 'migrations', 'orgs', 'rate_limits', 'refresh_tokens',
  'revoked_access_tokens', 'service_accounts', 'signing_keys', 'users',
];

describe('migrations', () => {
  let url: string;
  let dataSource: DataSource;

  beforeAll(async () => {
    url = await createTestDatabase({ empty: true });
    dataSource = await new DataSource(dataSourceOptions(url)).initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await dropTestDatabase(url);
  });

  const tables = async () =>
    (await dataSource.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`))
      .map((r: { table_name: string }) => r.table_name);

  it('build the whole schema on an empty database', async () => {
    expect(await tables()).toEqual([]);
    await runMigrations(dataSource);
    expect(await tables()).toEqual(TABLES);
  });

  it('agree with the entities: generating a migration now yields nothing', async () => {
    const sql = await dataSource.driver.createSchemaBuilder().log();
    expect(sql.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('use timestamptz for every time column', async () => {
    const rows: { table_name: string; column_name: string; data_type: string }[] = await dataSource.query(
      `SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_schema = 'public' AND data_type LIKE 'timestamp%'`,
    );
    expect(rows.length).toBeGreaterThan(20);
    expect(rows.filter((r) => r.data_type !== 'timestamp with time zone')).toEqual([]);
  });

  it('enforce uniqueness case-insensitively for user names and once per token hash', async () => {
    const [{ id: orgId }] = await dataSource.query(`INSERT INTO orgs (name) VALUES ('acme') RETURNING id`);
    await dataSource.query(`INSERT INTO users (org_id, username, password_hash) VALUES ($1, 'Alice', 'x')`, [orgId]);
    await expect(dataSource.query(`INSERT INTO users (org_id, username, password_hash) VALUES ($1, 'alice', 'x')`, [orgId]))
      .rejects.toThrow(/UQ_users_username_lower/);
    await expect(dataSource.query(`INSERT INTO orgs (name) VALUES ('ACME')`)).rejects.toThrow(/UQ_orgs_name_lower/);
  });

  it('allow at most one active signing key', async () => {
    const key = (kid: string) =>
      dataSource.query(`INSERT INTO signing_keys (kid, public_jwk, private_key) VALUES ($1, '{}', 'pem')`, [kid]);
    await key('k1');
    await expect(key('k2')).rejects.toThrow(/UQ_signing_keys_one_active/);
  });

  it('cascade from a grant to its codes and refresh tokens, and keep tokens when an old code is pruned', async () => {
    const [{ id: orgId }] = await dataSource.query(`SELECT id FROM orgs WHERE name = 'acme'`);
    const [{ id: userId }] = await dataSource.query(`SELECT id FROM users WHERE username = 'Alice'`);
    const [{ id: appId }] = await dataSource.query(
      `INSERT INTO apps (client_id, name, display_name, provenance, org_id) VALUES ('c1', 'a', 'A', 'api', $1) RETURNING id`, [orgId]);
    const [{ id: grantId }] = await dataSource.query(`INSERT INTO grants (user_id, app_id) VALUES ($1, $2) RETURNING id`, [userId, appId]);
    const [{ id: codeId }] = await dataSource.query(
      `INSERT INTO authorization_codes (code_hash, app_id, user_id, grant_id, redirect_uri, auth_time, expires_at)
       VALUES (repeat('a', 64), $1, $2, $3, 'https://app/cb', now(), now()) RETURNING id`, [appId, userId, grantId]);
    const insertToken = (hash: string) => dataSource.query(
      `INSERT INTO refresh_tokens (token_hash, family_id, grant_id, app_id, user_id, authorization_code_id, expires_at)
       VALUES ($1, gen_random_uuid(), $2, $3, $4, $5, now() + interval '1 day')`, [hash, grantId, appId, userId, codeId]);
    await insertToken('b'.repeat(64));
    await expect(insertToken('b'.repeat(64))).rejects.toThrow(/UQ_refresh_tokens_token_hash/);

    await dataSource.query(`DELETE FROM authorization_codes WHERE id = $1`, [codeId]);
    expect(await dataSource.query(`SELECT authorization_code_id FROM refresh_tokens`)).toEqual([{ authorization_code_id: null }]);

    await dataSource.query(`DELETE FROM grants WHERE id = $1`, [grantId]);
    expect(await dataSource.query(`SELECT count(*)::int AS n FROM refresh_tokens`)).toEqual([{ n: 0 }]);
  });

  it('can be reverted, one by one, down to nothing', async () => {
    for (let i = 0; i < dataSource.migrations.length; i++) await dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tables()).toEqual(['migrations']);
  });
});
