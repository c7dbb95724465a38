import request from 'supertest';
import { bootApp } from '../helpers/app';
import { createServiceAccount, signIn } from '../helpers/identity';

/**
 * Two applications in one process (an embedder mounting two, or tests booting two instances) each check bearer
 * tokens with their own verifiers: passport's process-wide default instance would let the last one answer for all.
 */
describe('bearer authentication per application', () => {
  it("accepts at A a token A issued, though B was started after it on another database", async () => {
    const a = await bootApp();
    const b = await bootApp();
    try {
      const account = await createServiceAccount(a, await signIn(a), 'per-app', 'admin');
      const atA = await request(a.url).get('/api/v1/users').set('Authorization', `Bearer ${account.token}`);
      expect(atA.status).toBe(200);
      const atB = await request(b.url).get('/api/v1/users').set('Authorization', `Bearer ${account.token}`);
      expect(atB.status).toBe(401);
    } finally {
      await b.close();
      await a.close();
    }
  });
});
