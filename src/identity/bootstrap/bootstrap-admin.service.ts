import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CryptoService } from '../../common/crypto/crypto.service';
import { AppConfig } from '../../config/app-config';
import { ANNOUNCE, Announce, APP_CONFIG } from '../../config/config.module';
import { OrgEntity } from '../entities/org.entity';
import { UserEntity } from '../entities/user.entity';
import { DEFAULT_ORG } from '../orgs/orgs.service';
import { AuditTrail } from '../audit/audit-trail.service';

/** Arbitrary, fixed: serialises the empty-database check of instances starting together. */
const BOOTSTRAP_LOCK_KEY = 8102082353617037421n;

/**
 * On an empty database: the default org and the first admin (SPEC §1), recorded as `user.created` by `system`. A
 * generated password is printed once, on stdout (the CLI: stderr) and never through the logger, which would redact
 * it anyway.
 */
@Injectable()
export class BootstrapAdminService implements OnApplicationBootstrap {
  constructor(
    private readonly dataSource: DataSource,
    private readonly crypto: CryptoService,
    private readonly audit: AuditTrail,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(ANNOUNCE) private readonly announce: Announce,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { username, password: configured } = this.config.bootstrapAdmin;
    const password = configured ?? this.crypto.randomToken(18);
    const created = await this.dataSource.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY.toString()]);
      await tx.createQueryBuilder().insert().into(OrgEntity).values({ name: DEFAULT_ORG }).orIgnore().execute();
      if ((await tx.count(UserEntity)) > 0) return false;
      const org = await tx.findOneByOrFail(OrgEntity, { name: DEFAULT_ORG });
      const { identifiers } = await tx.insert(UserEntity, { username, passwordHash: await this.crypto.hashPassword(password), role: 'admin', orgId: org.id });
      await this.audit.record(tx, { type: 'user.created', subjectUserId: identifiers[0].id as string, details: { username, role: 'admin', org_id: org.id, bootstrap: true } });
      return true;
    });
    if (created && !configured) {
      this.announce(
        `\n  portcullis: created the first admin.\n    username: ${username}\n    password: ${password}\n` +
          '  This password is shown only now. Sign in at /login and change it.\n\n',
      );
    }
  }
}
