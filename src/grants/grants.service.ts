import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { GrantEntity } from './entities/grant.entity';

/** What each user allowed each app (SPEC §3 consent memory). */
@Injectable()
export class GrantsService {
  constructor(@InjectRepository(GrantEntity) private readonly grants: Repository<GrantEntity>) {}

  find(userId: string, appId: string): Promise<GrantEntity | null> {
    return this.grants.findOneBy({ userId, appId });
  }

  /** Records consent; scopes are added to any earlier grant (SPEC §3), atomically under concurrent consents. */
  async record(userId: string, appId: string, scopes: readonly string[]): Promise<GrantEntity> {
    const rows: { id: string }[] = await this.grants.query(
      `INSERT INTO grants (user_id, app_id, scopes) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, app_id) DO UPDATE
         SET scopes = ARRAY(SELECT DISTINCT s FROM unnest(grants.scopes || EXCLUDED.scopes) AS s ORDER BY s),
             updated_at = now()
       RETURNING id`,
      [userId, appId, scopes],
    );
    return this.grants.findOneByOrFail({ id: rows[0].id });
  }

  /** Records that the app used the grant (shown on /account/apps), at most once a minute per grant. */
  async markUsed(grantId: string): Promise<void> {
    await this.grants.query(
      `UPDATE grants SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
      [grantId],
    );
  }
}
