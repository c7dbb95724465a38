import { CreateSchema1795432839251 } from './1795432839251-CreateSchema';
import { AddCodeAccessToken1795440000000 } from './1795440000000-AddCodeAccessToken';
import { TokensDieWithTheirSource1795500000000 } from './1795500000000-TokensDieWithTheirSource';
import { CachedRowsChangeFeed1795600000000 } from './1795600000000-CachedRowsChangeFeed';
import { AppReview1795700000000 } from './1795700000000-AppReview';
import { RefreshReuseGrace1795800000000 } from './1795800000000-RefreshReuseGrace';
import { AppAllowedResources1795810000000 } from './1795810000000-AppAllowedResources';
import { ClientIdMetadataDocuments1795900000000 } from './1795900000000-ClientIdMetadataDocuments';
import { RegistrationDigest1796000000000 } from './1796000000000-RegistrationDigest';
import { AuditEvents1796100000000 } from './1796100000000-AuditEvents';

/** Every migration, in order. Listed explicitly so the compiled app and ts-jest load the same set. */
export const MIGRATIONS = [
  CreateSchema1795432839251, AddCodeAccessToken1795440000000, TokensDieWithTheirSource1795500000000, CachedRowsChangeFeed1795600000000,
  AppReview1795700000000, RefreshReuseGrace1795800000000, AppAllowedResources1795810000000, ClientIdMetadataDocuments1795900000000,
  RegistrationDigest1796000000000, AuditEvents1796100000000,
];
