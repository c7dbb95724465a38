import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, ScopeDefinition } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import type { UserRole } from '../../identity/entities/user.entity';

/** The scopes every Portcullis knows (SPEC §2). More can be declared in configuration. */
export const BUILT_IN_SCOPES: readonly ScopeDefinition[] = [
  { name: 'openid', description: 'Sign you in and know your user id' },
  { name: 'profile', description: 'See your name' },
  { name: 'email', description: 'See your email address' },
  { name: 'offline_access', description: 'Stay connected when you are not using it (refresh tokens)' },
  { name: 'account', description: 'Manage your Portcullis account: see and revoke the apps you connected' },
  { name: 'admin', description: 'Administer Portcullis: users, apps and service accounts' },
];

/** Only users with the admin role may be granted these (SPEC §2). */
const ADMIN_ONLY_SCOPES = new Set(['admin']);
/** A self-registered app cannot register for these: they are privileged settings (SPEC §5). */
const NOT_SELF_REGISTRABLE = new Set(['admin']);

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

  /** What a self-registered app gets when it names no scope: everything but the privileged scopes. */
  defaultForSelfRegistered(): string[] {
    return this.names().filter((s) => !NOT_SELF_REGISTRABLE.has(s));
  }

  isSelfRegistrable(name: string): boolean {
    return this.isKnown(name) && !NOT_SELF_REGISTRABLE.has(name);
  }

  /** The scopes a user of this role may be granted at all. */
  allowedForRole(role: UserRole): string[] {
    return this.names().filter((s) => role === 'admin' || !ADMIN_ONLY_SCOPES.has(s));
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
