import { INestApplicationContext } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { AppsService } from '../clients/apps.service';
import { AppDto, CreateAppDto } from '../clients/dto/app.dto';
import { CryptoService } from '../common/crypto/crypto.service';
import { PageQueryDto } from '../common/pagination';
import { ApiProblem } from '../common/problem/problem';
import { MIGRATIONS } from '../database/migrations';
import { runMigrations } from '../database/data-source-options';
import { DcrCleanupService } from '../clients/registration/dcr-cleanup.service';
import { CreateUserDto, UpdateUserDto } from '../identity/users/dto/user.dto';
import { UsersService } from '../identity/users/users.service';
import { BrowserSessionsService } from '../identity/sessions/browser-sessions.service';
import { MaintenanceService } from '../token/maintenance.service';
import { SigningKeysService } from '../token/signing-keys.service';
import { CliDatabase } from './cli-database';
import { CliError, CliIo } from './cli-io';

/** What a command prints: `text` for people, `json` with --json for scripts. */
export interface Answer {
  readonly text: string;
  readonly json: unknown;
}

const GENERATED = 'shown only now: keep it somewhere safe';

/** The commands, each on the same services the server runs, against the configured database. */
export class Commands {
  constructor(private readonly db: CliDatabase, private readonly io: CliIo) {}

  async usersCreate(username: string, options: { password?: boolean | string; passwordStdin?: boolean; role?: string; email?: string; givenName?: string; familyName?: string }): Promise<Answer> {
    const { password, generated } = await this.password(options);
    const dto = await checked(CreateUserDto, {
      username, password, role: options.role, email: options.email, given_name: options.givenName, family_name: options.familyName,
    });
    const user = await (await this.service(UsersService)).create(dto);
    return {
      text: `created user ${user.username} (id ${user.id}, role ${user.role})\n${generated ? `password: ${password}  (${GENERATED})\n` : ''}`,
      json: { ...user, ...(generated ? { password } : {}) },
    };
  }

  async usersSetPassword(username: string, options: { password?: string; passwordStdin?: boolean }): Promise<Answer> {
    const { password, generated } = await this.password(options);
    const dto = await checked(UpdateUserDto, { password });
    const users = await this.service(UsersService);
    const id = (await users.findByUsername(username))?.id;
    if (!id) throw new CliError(`no user named "${username}"`);
    await users.update(id, dto);
    return {
      text: `password of ${username} changed; their browser sessions and tokens are revoked\n${generated ? `password: ${password}  (${GENERATED})\n` : ''}`,
      json: { id, username, ...(generated ? { password } : {}) },
    };
  }

  async appsCreate(options: { name: string; displayName?: string; redirectUri?: string[]; grantType?: string[]; scope?: string; public?: boolean; org?: string; applicationType?: string }): Promise<Answer> {
    const body: CreateAppDto = {
      name: options.name,
      display_name: options.displayName,
      redirect_uris: options.redirectUri,
      grant_types: options.grantType,
      scope: options.scope,
      org_id: options.org,
      token_endpoint_auth_method: options.public ? 'none' : undefined,
      application_type: options.applicationType as CreateAppDto['application_type'],
    };
    const app = await (await this.service(AppsService)).create(body);
    const secret = app.client_secret ? `client_secret: ${app.client_secret}  (${GENERATED})\n` : 'public client: no secret\n';
    return { text: `created app ${app.name} (id ${app.id})\nclient_id: ${app.client_id}\n${secret}`, json: app };
  }

  async appsList(): Promise<Answer> {
    const apps = await this.service(AppsService);
    const all: AppDto[] = [];
    for (let page = 1; ; page++) {
      const { items, total } = await apps.list(Object.assign(new PageQueryDto(), { page, per_page: 100 }));
      all.push(...items);
      if (all.length >= total || items.length === 0) break;
    }
    const rows = all.map((a) => [a.client_id, a.provenance, a.name, a.created_at, a.last_used_at ?? 'never']);
    return { text: table(['CLIENT_ID', 'PROVENANCE', 'NAME', 'CREATED', 'LAST USED'], rows), json: all };
  }

  async appsRotateSecret(ref: string): Promise<Answer> {
    const apps = await this.service(AppsService);
    const id = (await apps.findByClientId(ref))?.id ?? ref;
    const app = await apps.rotateSecret(id);
    return { text: `new secret for ${app.name} (client_id ${app.client_id}); the old one no longer works\nclient_secret: ${app.client_secret}  (${GENERATED})\n`, json: app };
  }

  async keysRotate(): Promise<Answer> {
    const rotated = await (await this.service(SigningKeysService)).rotate();
    const retired = rotated.retired.length ? `; retired ${rotated.retired.join(', ')} (published until the tokens it signed expire)` : '';
    return { text: `signing key ${rotated.kid} is active on every instance${retired}\n`, json: rotated };
  }

  async dbStatus(): Promise<Answer> {
    const applied = await this.appliedMigrations();
    const migrations = MIGRATIONS.map((m) => ({ name: m.name, applied: applied.has(m.name) }));
    const pending = migrations.filter((m) => !m.applied).length;
    const text = migrations.map((m) => `${m.applied ? 'applied' : 'pending'}  ${m.name}`).join('\n') +
      `\n${pending ? `${pending} pending: run portcullis db:migrate (or start the server)` : 'the schema is up to date'}\n`;
    return { text, json: { migrations, pending } };
  }

  async dbMigrate(): Promise<Answer> {
    const before = await this.appliedMigrations();
    await runMigrations(await this.db.connection());
    const ran = MIGRATIONS.map((m) => m.name).filter((name) => !before.has(name));
    return { text: ran.length ? `applied ${ran.join(', ')}\n` : 'nothing to apply: the schema is up to date\n', json: { applied: ran } };
  }

  async prune(): Promise<Answer> {
    const app = await this.db.services();
    const pruned = {
      ...(await app.get(MaintenanceService).prune()),
      browserSessions: await app.get(BrowserSessionsService).pruneExpired(),
      unusedApps: await app.get(DcrCleanupService).sweep(),
    };
    const text = Object.entries(pruned).map(([table, n]) => `${table}: ${typeof n === 'number' ? n : n.rows}`).join('\n') + '\n';
    return { text, json: pruned };
  }

  private async service<T>(type: new (...args: never[]) => T): Promise<T> {
    return (await this.db.services()).get(type as never) as T;
  }

  private async appliedMigrations(): Promise<Set<string>> {
    const connection = await this.db.connection();
    const exists = await connection.query(`SELECT to_regclass('public.migrations') IS NOT NULL AS present`);
    if (!exists[0].present) return new Set();
    return new Set((await connection.query('SELECT name FROM migrations')).map((r: { name: string }) => r.name));
  }

  /** --password (visible to other users of the machine), --password-stdin, or generated and printed once. */
  private async password(options: { password?: boolean | string; passwordStdin?: boolean }): Promise<{ password: string; generated: boolean }> {
    if (options.passwordStdin && typeof options.password === 'string') throw new CliError('give --password or --password-stdin, not both');
    if (options.passwordStdin) {
      const password = (await this.io.readStdin()).replace(/\r?\n$/, '');
      if (!password) throw new CliError('no password on standard input');
      return { password, generated: false };
    }
    if (typeof options.password === 'string') return { password: options.password, generated: false };
    return { password: new CryptoService().randomToken(18), generated: true };
  }
}

/** The DTO the API would check, checked the same way; the first problem is the one line the user sees. */
async function checked<T extends object>(type: new () => T, plain: Record<string, unknown>): Promise<T> {
  const dto = plainToInstance(type, Object.fromEntries(Object.entries(plain).filter(([, v]) => v !== undefined)));
  const errors = await validate(dto, { whitelist: true });
  const first = errors[0];
  if (first) throw new CliError(Object.values(first.constraints ?? {})[0] ?? `${first.property} is not valid`);
  return dto;
}

/** A problem the services raise (the API's problem+json), as one line. */
export function describeProblem(e: ApiProblem): string {
  const fields = (e.invalidFields ?? []).map((f) => f.title);
  return e.type === 'validation_error' && fields.length ? fields.join('; ') : e.title;
}

function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return 'no apps\n';
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
