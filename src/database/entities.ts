import { AppEntity } from '../clients/entities/app.entity';
import { AuthorizationCodeEntity } from '../grants/entities/authorization-code.entity';
import { GrantEntity } from '../grants/entities/grant.entity';
import { RefreshTokenEntity } from '../grants/entities/refresh-token.entity';
import { BrowserSessionEntity } from '../identity/entities/browser-session.entity';
import { OrgEntity } from '../identity/entities/org.entity';
import { ServiceAccountEntity } from '../identity/entities/service-account.entity';
import { UserEntity } from '../identity/entities/user.entity';
import { RevokedAccessTokenEntity } from '../grants/entities/revoked-access-token.entity';
import { SigningKeyEntity } from '../token/entities/signing-key.entity';
import { AuditEventEntity } from '../identity/audit/audit-event.entity';

/** Every table of SPEC §6, and the audit trail. Each owner module registers its own with TypeOrmModule.forFeature. */
export const ENTITIES = [
  OrgEntity,
  UserEntity,
  BrowserSessionEntity,
  ServiceAccountEntity,
  AppEntity,
  GrantEntity,
  AuthorizationCodeEntity,
  RefreshTokenEntity,
  RevokedAccessTokenEntity,
  SigningKeyEntity,
  AuditEventEntity,
];
