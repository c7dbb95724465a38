import { decodeJwt } from 'jose';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { MaintenanceService } from '../../src/token/maintenance.service';
import { bootApp, TestApp } from '../helpers/app';
import { createApp, RegisteredApp } from '../helpers/clients';
import { createUser, signIn } from '../helpers/identity';
import { introspect, issueTokens, myAuthorizations, oauthError, refresh, revoke, rotate, Tokens, userinfo } from '../helpers/protocol';

/**
 * Issue 14 item 3, refresh that survives agents: OAUTH2_REFRESH_REUSE_GRACE. Within the window the same client
 * presenting the token it just rotated (a retry whose answer was lost, or concurrent refreshes) is answered the same
 * successor and the same access token (same jti), and the family never forks; outside it, or for anything else,
 * reuse revokes the family as SPEC §4 says. Grace 0, the default, is strict rotation as before.
 */

const unique = () => randomBytes(4).toString('hex');

interface Setup {
  t: TestApp;
  /** Confidential, code + refresh tokens. */
  web: RegisteredApp;
  /** Another confidential client of the same kind. */
  other: RegisteredApp;
  /** Introspects access tokens. */
  resourceServer: RegisteredApp;
  /** A new user, signed in: nothing they hold is shared with another test. */
  freshUser(): Promise<{ cookie: string }>;
}

async function setUp(env: Record<string, string> = {}): Promise<Setup> {
  const t = await bootApp({ env });
  const admin = await signIn(t);
  const refreshing = { grant_types: ['authorization_code', 'refresh_token'] };
  const web = await createApp(t, admin, { name: 'web', ...refreshing, redirect_uris: ['https://web.example.com/cb'] });
  const other = await createApp(t, admin, { name: 'other', ...refreshing, redirect_uris: ['https://other.example.com/cb'] });
  const resourceServer = await createApp(t, admin, { name: 'resource-server', grant_types: ['client_credentials'], redirect_uris: [] });
  const freshUser = async () => {
    const user = await createUser(t, admin, { username: `u-${unique()}` });
    return { cookie: await signIn(t, user.username, user.password) };
  };
  return { t, web, other, resourceServer, freshUser };
}

const isActive = async (s: Setup, accessToken: string) => (await introspect(s.t, s.resourceServer, accessToken)).body.active as boolean;

describe('refresh-token reuse, strict (OAUTH2_REFRESH_REUSE_GRACE unset)', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp();
  });
  afterAll(() => s?.t.close());

  it('refuses the just-rotated token with invalid_grant', async () => {
    const { cookie } = await s.freshUser();
    const first = await issueTokens(s.t, s.web, cookie);
    await rotate(s.t, s.web, first.refresh_token!);
    const res = await refresh(s.t, s.web, first.refresh_token!);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(oauthError('invalid_grant'));
  });

  it('revokes the family on that reuse: the successor and its access token die', async () => {
    const { cookie } = await s.freshUser();
    const first = await issueTokens(s.t, s.web, cookie);
    const second = await rotate(s.t, s.web, first.refresh_token!);
    await refresh(s.t, s.web, first.refresh_token!);
    expect((await refresh(s.t, s.web, second.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
    expect(await isActive(s, second.access_token)).toBe(false);
  });
});

describe('refresh-token reuse within a grace window (OAUTH2_REFRESH_REUSE_GRACE=30)', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp({ OAUTH2_REFRESH_REUSE_GRACE: '30' });
  });
  afterAll(() => s?.t.close());

  /** A fresh family rotated once: the token used, and what that rotation answered. */
  async function rotatedOnce(): Promise<{ cookie: string; first: Tokens; second: Tokens }> {
    const { cookie } = await s.freshUser();
    const first = await issueTokens(s.t, s.web, cookie);
    return { cookie, first, second: await rotate(s.t, s.web, first.refresh_token!) };
  }

  it('answers the just-rotated token again with the same refresh token', async () => {
    const { first, second } = await rotatedOnce();
    const again = await refresh(s.t, s.web, first.refresh_token!);
    expect(again.status).toBe(200);
    expect(again.body.refresh_token).toBe(second.refresh_token);
  });

  it('answers it with the access token recorded at the rotation: the same jti, iat, exp, subject and scope', async () => {
    const { first, second } = await rotatedOnce();
    const again = await rotate(s.t, s.web, first.refresh_token!);
    const pick = ({ jti, iat, exp, sub, scope, client_id }: ReturnType<typeof decodeJwt>) => ({ jti, iat, exp, sub, scope, client_id });
    expect(pick(decodeJwt(again.access_token))).toEqual(pick(decodeJwt(second.access_token)));
    expect(again.scope).toBe(second.scope);
    expect(again.expires_in).toBeLessThanOrEqual(second.expires_in);
  });

  it('the access token it answers works', async () => {
    const { first } = await rotatedOnce();
    const again = await rotate(s.t, s.web, first.refresh_token!);
    expect((await userinfo(s.t, again.access_token)).status).toBe(200);
  });

  it('the successor answered again then rotates normally, to a new token', async () => {
    const { first, second } = await rotatedOnce();
    await rotate(s.t, s.web, first.refresh_token!);
    const third = await rotate(s.t, s.web, second.refresh_token!);
    expect(third.refresh_token).toEqual(expect.any(String));
    expect(third.refresh_token).not.toBe(second.refresh_token);
    expect(decodeJwt(third.access_token).jti).not.toBe(decodeJwt(second.access_token).jti);
  });

  it('revokes the family when the old token comes back after its successor was rotated (the family moved on)', async () => {
    const { first, second } = await rotatedOnce();
    const third = await rotate(s.t, s.web, second.refresh_token!);
    expect((await refresh(s.t, s.web, first.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
    expect((await refresh(s.t, s.web, third.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
    expect(await isActive(s, third.access_token)).toBe(false);
  });

  it('answers 10 concurrent refreshes with one token all with one successor and one access token', async () => {
    const { cookie } = await s.freshUser();
    const { refresh_token } = await issueTokens(s.t, s.web, cookie);
    const responses = await Promise.all(Array.from({ length: 10 }, () => refresh(s.t, s.web, refresh_token!)));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(new Set(responses.map((r) => r.body.refresh_token)).size).toBe(1);
    expect(new Set(responses.map((r) => decodeJwt(r.body.access_token).jti)).size).toBe(1);
  });

  it('after 10 concurrent refreshes the user sees one session and one grant for the app', async () => {
    const { cookie } = await s.freshUser();
    const { refresh_token } = await issueTokens(s.t, s.web, cookie);
    await Promise.all(Array.from({ length: 10 }, () => refresh(s.t, s.web, refresh_token!)));
    const sessions = await request(s.t.url).get('/api/v0/users/me/oauth2/sessions').set('Cookie', cookie);
    expect(sessions.status).toBe(200);
    expect((sessions.body as { client_id: string }[]).filter((x) => x.client_id === s.web.clientId)).toHaveLength(1);
    const grants = await myAuthorizations(s.t, { cookie });
    expect((grants.body.items as { app_client_id: string }[]).filter((g) => g.app_client_id === s.web.clientId)).toHaveLength(1);
  });

  it("gives another client presenting the token invalid_grant and nothing else, and leaves the owner's family alive", async () => {
    const { first, second } = await rotatedOnce();
    const res = await refresh(s.t, s.other, first.refresh_token!);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(oauthError('invalid_grant'));
    expect(await isActive(s, second.access_token)).toBe(true);
    expect((await refresh(s.t, s.web, second.refresh_token!)).status).toBe(200);
  });

  it('revoking the successor (RFC 7009) denies the access token answered again too, by its jti', async () => {
    const { first, second } = await rotatedOnce();
    const again = await rotate(s.t, s.web, first.refresh_token!);
    expect((await userinfo(s.t, again.access_token)).status).toBe(200);
    expect((await revoke(s.t, s.web, second.refresh_token!)).status).toBe(200);
    expect((await userinfo(s.t, again.access_token)).status).toBe(401);
    expect(await isActive(s, again.access_token)).toBe(false);
  });

  it('revokes the family when the token is presented again after the family was revoked', async () => {
    const { first, second } = await rotatedOnce();
    expect((await revoke(s.t, s.web, second.refresh_token!)).status).toBe(200);
    expect((await refresh(s.t, s.web, first.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
  });
});

describe('refresh-token reuse after a grace window passed (OAUTH2_REFRESH_REUSE_GRACE=1)', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp({ OAUTH2_REFRESH_REUSE_GRACE: '1' });
  });
  afterAll(() => s?.t.close());

  it('revokes the family: the successor and its access token die', async () => {
    const { cookie } = await s.freshUser();
    const first = await issueTokens(s.t, s.web, cookie);
    const second = await rotate(s.t, s.web, first.refresh_token!);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await refresh(s.t, s.web, first.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
    expect((await refresh(s.t, s.web, second.refresh_token!)).body).toEqual(oauthError('invalid_grant'));
    expect(await isActive(s, second.access_token)).toBe(false);
  });

  it('housekeeping forgets the successor keys of rotations older than the window, in a batch', async () => {
    const { cookie } = await s.freshUser();
    const first = await issueTokens(s.t, s.web, cookie);
    await rotate(s.t, s.web, first.refresh_token!);
    const keys = async () => Number((await s.t.app.get(DataSource).query('SELECT count(*) AS n FROM refresh_tokens WHERE successor_key IS NOT NULL'))[0].n);
    expect(await keys()).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const pruned = await s.t.app.get(MaintenanceService).prune();
    expect(pruned.successorKeys).toEqual({ rows: expect.any(Number), batches: 1 });
    expect(await keys()).toBe(0);
  });
});
