import request from 'supertest';
import { bootApp } from '../helpers/app';
import { sql } from '../helpers/database';

/** Signing keys are encrypted at rest (issue 10): keys stored before a secret existed are encrypted on start. */
describe('signing keys at rest', () => {
  // First in the file: nestjs-pino keeps one root logger per process, so start-up lines of a later app in the same
  // file land in the first app's capture.
  it('warns loudly when no secret is configured', async () => {
    const t = await bootApp();
    try {
      expect(t.logs.entries().some((e) => e.level === 40 && String(e.msg).includes('KEY_ENCRYPTION_SECRET is not set'))).toBe(true);
    } finally {
      await t.close();
    }
  });
  it('refuses to start, in one line naming KEY_ENCRYPTION_SECRET, with a secret that does not decrypt the stored keys', async () => {
    const first = await bootApp({ env: { KEY_ENCRYPTION_SECRET: 'the-first-secret-1234567' } });
    await first.close();
    await expect(bootApp({ databaseUrl: first.databaseUrl, env: { KEY_ENCRYPTION_SECRET: 'another-secret-7654321' } }))
      .rejects.toThrow(/^KEY_ENCRYPTION_SECRET does not decrypt signing key \S+: it is not the secret the keys were encrypted with$/);
  });

  it('encrypts keys stored in plain text once a KEY_ENCRYPTION_SECRET is configured, and keeps signing with them', async () => {
    const plain = await bootApp();
    const before = await sql<{ kid: string; encrypted: boolean }>(plain, 'SELECT kid, encrypted FROM signing_keys');
    expect(before).toEqual([{ kid: expect.any(String), encrypted: false }]);
    await plain.close();

    const t = await bootApp({ databaseUrl: plain.databaseUrl, env: { KEY_ENCRYPTION_SECRET: 'a-secret-of-enough-length-123' } });
    try {
      const after = await sql<{ kid: string; encrypted: boolean; private_key: string }>(t, 'SELECT kid, encrypted, private_key FROM signing_keys');
      expect(after).toEqual([{ kid: before[0].kid, encrypted: true, private_key: expect.stringMatching(/^v1:/) }]);
      expect(after[0].private_key).not.toContain('PRIVATE KEY');
      const jwks = await request(t.url).get('/oauth2/jwks');
      expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual([before[0].kid]);
    } finally {
      await t.close();
    }
  });

});
