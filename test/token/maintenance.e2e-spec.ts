import { BrowserSessionsService } from '../../src/identity/sessions/browser-sessions.service';
import { MaintenanceService } from '../../src/token/maintenance.service';
import { bootApp, TestApp } from '../helpers/app';
import { createApp } from '../helpers/clients';
import { sql } from '../helpers/database';
import { signIn } from '../helpers/identity';
import { authorizeAndConsent } from '../helpers/oauth';

/** SPEC §6: expired rows are pruned. */
describe('pruning expired rows', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp();
    const admin = await signIn(t);
    const app = await createApp(t, admin, { grant_types: ['authorization_code', 'refresh_token'] });
    await authorizeAndConsent(t, app, admin);
    await authorizeAndConsent(t, app, admin);
    await signIn(t);
  });
  afterAll(() => t.close());

  const count = async (table: string) => (await sql<{ n: number }>(t, `SELECT count(*)::int AS n FROM ${table}`))[0].n;

  it('removes codes long expired, and keeps the others', async () => {
    await sql(t, `UPDATE authorization_codes SET expires_at = now() - interval '2 hours'
                   WHERE id = (SELECT id FROM authorization_codes ORDER BY created_at LIMIT 1)`);
    expect(await count('authorization_codes')).toBe(2);
    const pruned = await t.app.get(MaintenanceService).prune();
    expect(pruned.codes).toEqual({ rows: 1, batches: 1 });
    expect(await count('authorization_codes')).toBe(1);
  });

  it('removes expired denied jtis and retired keys no token can need, and keeps the active key', async () => {
    await sql(t, `INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ('old', now() - interval '1 minute'), ('live', now() + interval '1 hour')`);
    await sql(t, `INSERT INTO signing_keys (kid, status, public_jwk, private_key, publish_until) VALUES ('retired-long-ago', 'retired', '{}', 'x', now() - interval '1 minute')`);
    const pruned = await t.app.get(MaintenanceService).prune();
    expect(pruned).toMatchObject({ revokedAccessTokens: { rows: 1 }, signingKeys: 1 });
    expect(await sql(t, 'SELECT jti FROM revoked_access_tokens')).toEqual([{ jti: 'live' }]);
    expect(await sql(t, `SELECT status FROM signing_keys`)).toEqual([{ status: 'active' }]);
  });

  it('removes expired refresh tokens', async () => {
    await sql(t, `INSERT INTO refresh_tokens (token_hash, family_id, grant_id, app_id, user_id, expires_at)
                  SELECT repeat('f', 64), gen_random_uuid(), g.id, g.app_id, g.user_id, now() - interval '1 second' FROM grants g LIMIT 1`);
    expect((await t.app.get(MaintenanceService).prune()).refreshTokens).toEqual({ rows: 1, batches: 1 });
  });

  it('keeps an expired code or refresh token while the access token it minted lives: deleting it would deny that token', async () => {
    await sql(t, `INSERT INTO refresh_tokens (token_hash, family_id, grant_id, app_id, user_id, expires_at, access_token_jti, access_token_expires_at)
                  SELECT repeat('e', 64), gen_random_uuid(), g.id, g.app_id, g.user_id, now() - interval '1 second', 'still-live-jti', now() + interval '1 hour'
                  FROM grants g LIMIT 1`);
    await sql(t, `UPDATE authorization_codes SET expires_at = now() - interval '2 hours', access_token_jti = 'code-live-jti',
                   access_token_expires_at = now() + interval '1 hour'`);
    const pruned = await t.app.get(MaintenanceService).prune();
    expect(pruned).toMatchObject({ codes: { rows: 0 }, refreshTokens: { rows: 0 } });
    expect(await sql(t, `SELECT jti FROM revoked_access_tokens WHERE jti IN ('still-live-jti', 'code-live-jti')`)).toEqual([]);
  });

  it('removes expired browser sessions', async () => {
    const before = await count('browser_sessions');
    await sql(t, `UPDATE browser_sessions SET expires_at = now() - interval '1 second'
                   WHERE id = (SELECT id FROM browser_sessions ORDER BY created_at LIMIT 1)`);
    expect((await t.app.get(BrowserSessionsService).pruneExpired()).rows).toBe(1);
    expect(await count('browser_sessions')).toBe(before - 1);
  });

  describe('at scale (issue 13 item 4)', () => {
    const BACKLOG = 100_000;

    it('prunes 100,000 expired rows in bounded batches from two instances at once, while sign-ins and revocations go on', async () => {
      const [{ id: adminId }] = await sql<{ id: string }>(t, `SELECT id FROM users WHERE username = 'admin'`);
      await sql(t, `INSERT INTO revoked_access_tokens (jti, expires_at)
                    SELECT 'expired-' || n, now() - interval '1 minute' FROM generate_series(1, $1) n`, [BACKLOG]);
      await sql(t, `INSERT INTO browser_sessions (id_hash, user_id, authenticated_at, expires_at)
                    SELECT md5('s' || n) || md5('t' || n), $2, now() - interval '2 days', now() - interval '1 day' FROM generate_series(1, $1) n`, [BACKLOG, adminId]);

      // Traffic that writes to the very tables being pruned: sign-ins (browser sessions) and denied tokens.
      let pruning = true;
      const during: string[] = [];
      const traffic = (async () => {
        for (let i = 0; pruning; i++) {
          await signIn(t);
          await sql(t, `INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, now() + interval '1 hour')`, [`live-${i}`]);
          during.push(`round ${i}`);
        }
      })();
      // Two instances' maintenance at once: the same services, run concurrently, share the work without waiting.
      const [a, b] = await Promise.all([t.app.get(MaintenanceService).prune(), t.app.get(MaintenanceService).prune()]);
      const [sa, sb] = await Promise.all([t.app.get(BrowserSessionsService).pruneExpired(), t.app.get(BrowserSessionsService).pruneExpired()]);
      pruning = false;
      await traffic;

      const denied = [a, b].map((p) => p.revokedAccessTokens as { rows: number; batches: number });
      expect(denied[0].rows + denied[1].rows).toBe(BACKLOG);
      expect(sa.rows + sb.rows).toBe(BACKLOG);
      // No statement deleted more than a batch: the biggest lock any of them held covered 1,000 rows.
      expect(denied[0].batches + denied[1].batches).toBeGreaterThanOrEqual(BACKLOG / 1000);
      expect(sa.batches + sb.batches).toBeGreaterThanOrEqual(BACKLOG / 1000);
      expect(during.length).toBeGreaterThan(0);
      expect(await count(`revoked_access_tokens WHERE jti LIKE 'expired-%'`)).toBe(0);
      expect(await count(`revoked_access_tokens WHERE jti LIKE 'live-%'`)).toBe(during.length);
      expect(await count(`browser_sessions WHERE expires_at < now()`)).toBe(0);
      expect(t.logs.text).toContain('pruned expired rows');
      expect(t.logs.text).toContain('pruned expired browser sessions');
    });
  });
});
