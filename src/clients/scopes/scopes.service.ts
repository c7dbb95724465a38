import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, ScopeDefinition } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import type { UserRole } from '../../identity/entities/user.entity';
import type { AppEntity, AppProvenance } from '../entities/app.entity';

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

/**
 * How the consent and connected-apps pages present a scope: riskiest first, the privileged ones marked with what
 * granting them means. Scopes declared in configuration come after the built-in privileged ones and before the
 * built-in personal data, in their declared order.
 */
export interface ScopePresentation {
  readonly name: string;
  readonly description: string;
  readonly risk: 'high' | 'elevated' | 'normal';
  /** A short mark for a privileged scope. */
  readonly mark?: string;
  /** What granting it means, in one line. */
  readonly consequence?: string;
}

const PRESENTATION: Readonly<Record<string, Omit<ScopePresentation, 'name' | 'description'> & { rank: number }>> = {
  admin: { rank: 0, risk: 'high', mark: 'Administrator access', consequence: 'Can change users, apps and settings for everyone on this server' },
  account: { rank: 1, risk: 'high', mark: 'Acts as you', consequence: 'Can see and revoke your connected apps and sessions, and get new tokens in your name' },
  offline_access: { rank: 2, risk: 'elevated', mark: 'Ongoing access', consequence: 'Keeps access after you close the app' },
  email: { rank: 4, risk: 'normal' },
  profile: { rank: 5, risk: 'normal' },
  openid: { rank: 6, risk: 'normal' },
};
const DECLARED = { rank: 3, risk: 'normal' } as const;

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
    return this.names().filter((s) => (provenance === 'api' ? s !== 'admin' : !NOT_SELF_REGISTRABLE.has(s)));
  }

  isSelfRegistrable(name: string): boolean {
    return this.isKnown(name) && !NOT_SELF_REGISTRABLE.has(name);
  }

  /** The scopes a user of this role may be granted at all. */
  allowedForRole(role: UserRole): string[] {
    return this.names().filter((s) => role === 'admin' || !ADMIN_ONLY_SCOPES.has(s));
  }

  /**
   * What of `requested` may be granted to this app for a user of this role: nothing privileged for a
   * self-registered app, and nothing the app cannot use — `offline_access` means refresh tokens, which an app not
   * registered for the refresh_token grant never gets, so it is neither shown on the consent page nor granted.
   */
  grantable(requested: readonly string[], role: UserRole, app: Pick<AppEntity, 'provenance' | 'grantTypes'>): string[] {
    const allowed = this.allowedForRole(role);
    return requested.filter((s) =>
      allowed.includes(s) &&
      (app.provenance === 'api' || !NOT_SELF_REGISTRABLE.has(s)) &&
      (s !== 'offline_access' || app.grantTypes.includes('refresh_token')));
  }

  /** The scopes as the pages show them: riskiest first, in a stable order, each with its description and mark. */
  present(names: readonly string[]): ScopePresentation[] {
    const order = (name: string) => (PRESENTATION[name] ?? DECLARED).rank * 10_000 + Math.max(0, this.all.findIndex((s) => s.name === name));
    return [...new Set(names)].sort((a, b) => order(a) - order(b)).map((name) => {
      const { rank: _rank, ...presentation } = PRESENTATION[name] ?? DECLARED;
      return { name, description: this.byName.get(name)?.description ?? name, ...presentation };
    });
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
