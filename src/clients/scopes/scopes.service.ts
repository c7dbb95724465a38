import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, ScopeDefinition } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import type { UserRole } from '../../identity/entities/user.entity';
import type { AppProvenance } from '../entities/app.entity';

/** The scopes every Portcullis knows (SPEC §2). More can be declared in configuration. */
export const BUILT_IN_SCOPES: readonly ScopeDefinition[] = [
  { name: 'openid', description: 'Sign you in and know your user id' },
  { name: 'profile', description: 'See your name' },
  { name: 'email', description: 'See your email address' },
  { name: 'offline_access', description: 'Stay connected when you are not using it (refresh tokens)' },
  {
    name: 'account',
    description: 'Act as you on this account: see and revoke the apps and sessions you connected, and get new tokens in your name',
  },
  { name: 'admin', description: 'Administer Portcullis: users, apps and service accounts' },
];

/** Only users with the admin role may be granted these (SPEC §2). */
const ADMIN_ONLY_SCOPES = new Set(['admin']);
/**
 * Never granted to a self-registered app (SPEC §2, §5): `account` acts as the user on this server's own API and
 * `admin` administers it; nobody vouched for an app that registered itself.
 */
const NOT_SELF_REGISTRABLE = new Set(['account', 'admin']);

/** RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`, separated by single spaces. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

@Injectable()
export class ScopesService {
  private readonly all: readonly ScopeDefinition[];
  private readonly byName: ReadonlyMap<string, ScopeDefinition>;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.all = [...BUILT_IN_SCOPES, ...config.authorizationServer.extraScopes];
    this.byName = new Map(this.all.map((s) => [s.name, s]));
  }

  list(): readonly ScopeDefinition[] {
    return this.all;
  }

  names(): string[] {
    return this.all.map((s) => s.name);
  }

  isKnown(name: string): boolean {
    return this.byName.has(name);
  }

  describe(name: string): ScopeDefinition | undefined {
    return this.byName.get(name);
  }

  /** What an app gets when it names no scope: everything but `admin`; for a self-registered one, nothing privileged. */
  defaultFor(provenance: AppProvenance): string[] {
    return this.names().filter((s) => (provenance === 'dcr' ? !NOT_SELF_REGISTRABLE.has(s) : s !== 'admin'));
  }

  isSelfRegistrable(name: string): boolean {
    return this.isKnown(name) && !NOT_SELF_REGISTRABLE.has(name);
  }

  /** The scopes a user of this role may be granted at all. */
  allowedForRole(role: UserRole): string[] {
    return this.names().filter((s) => role === 'admin' || !ADMIN_ONLY_SCOPES.has(s));
  }

  /** What of `requested` may be granted to an app of this provenance for a user of this role. */
  grantable(requested: readonly string[], role: UserRole, provenance: AppProvenance): string[] {
    const allowed = this.allowedForRole(role);
    return requested.filter((s) => allowed.includes(s) && (provenance !== 'dcr' || !NOT_SELF_REGISTRABLE.has(s)));
  }

  /**
   * Splits an RFC 6749 §3.3 scope string into distinct tokens, in order. Undefined when it is malformed
   * (characters outside scope-token).
   */
  static parse(scope: string): string[] | undefined {
    const tokens = scope.split(' ').filter((s) => s !== '');
    if (!tokens.every((t) => SCOPE_TOKEN.test(t))) return undefined;
    return [...new Set(tokens)];
  }
}
