import type { EntityManager } from 'typeorm';

/**
 * The client_id of an app, read in `manager`'s transaction, for an audit event about it: the grants module knows
 * apps by their row id, the audit trail by the client_id everyone else uses (null once the app is gone).
 */
export async function clientIdOf(manager: EntityManager, appId: string): Promise<string | null> {
  const [app] = await manager.query('SELECT client_id FROM apps WHERE id = $1', [appId]) as { client_id: string }[];
  return app?.client_id ?? null;
}
