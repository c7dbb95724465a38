import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Raw, Repository } from 'typeorm';
import { CryptoService } from '../../common/crypto/crypto.service';
import { isUniqueViolation } from '../../common/database';
import { Page, page, PageQueryDto } from '../../common/pagination';
import { conflict, notFound } from '../../common/problem/problem';
import { isUuid } from '../../common/uuid';
import { CachedRows, TableChanges } from '../../database/cached-rows';
import { DatabaseNotifications } from '../../database/notifications.service';
import { BrowserSessionEntity } from '../entities/browser-session.entity';
import { predatesCredentials, UserEntity } from '../entities/user.entity';
import { AuditTrail } from '../audit/audit-trail.service';
import { UserCredentialHooks } from './user-credential-hooks';
import { OrgsService } from '../orgs/orgs.service';
import { CreateUserDto, UpdateUserDto, UserDto } from './dto/user.dto';

@Injectable()
export class UsersService implements OnModuleInit {
  /** Compared against when the user does not exist, so the answer takes as long either way. */
  private dummyHash!: string;
  /** Token checks on every request read users from memory; any change to a user on any instance clears them. */
  private readonly byId: CachedRows<UserEntity>;

  constructor(
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    private readonly orgs: OrgsService,
    private readonly crypto: CryptoService,
    private readonly hooks: UserCredentialHooks,
    private readonly notifications: DatabaseNotifications,
    private readonly audit: AuditTrail,
    tableChanges: TableChanges,
  ) {
    this.byId = tableChanges.cache<UserEntity>('users', (id) => this.users.findOneBy({ id }), { max: 50_000, ttlMs: 5 * 60_000 });
  }

  async onModuleInit(): Promise<void> {
    this.dummyHash = await this.crypto.hashPassword(this.crypto.randomToken(16));
  }

  /**
   * Whether the username (case-insensitively) and password match a user; when they do not, which user the username
   * named, if any (the audit trail records a failed sign-in against it). One bcrypt comparison happens whether or
   * not the user exists.
   */
  async checkCredentials(username: string, password: string): Promise<CredentialCheck> {
    const user = username.length <= 64 ? await this.users.findOne({ where: { username: byName(username) }, select: selectWithHash }) : null;
    const fits = Buffer.byteLength(password) <= 72;
    const ok = await this.crypto.verifyPassword(password, fits && user ? user.passwordHash : this.dummyHash);
    if (ok && fits && user) return { ok: true, user };
    return { ok: false, claimed: user ? { id: user.id, username: user.username } : null };
  }

  /** The user a username names (case-insensitively), if any. */
  async findByUsername(username: string): Promise<Pick<UserEntity, 'id' | 'username'> | null> {
    if (username.length > 64) return null;
    return this.users.findOne({ where: { username: byName(username) }, select: { id: true, username: true } });
  }

  /** The user, from memory: a frozen copy shared by every request. */
  findById(id: string): Promise<Readonly<UserEntity> | null> {
    return isUuid(id) ? this.byId.get(id) : Promise.resolve(null);
  }

  /**
   * The user an access token issued at `iat` (seconds) is about, while the token still speaks for them: the user
   * exists and has not changed role or password since (SPEC §7).
   */
  async findTokenSubject(sub: string, iat: number): Promise<Readonly<UserEntity> | null> {
    const user = await this.findById(sub);
    return user && !predatesCredentials(user, iat) ? user : null;
  }

  count(): Promise<number> {
    return this.users.count();
  }

  async create(dto: CreateUserDto): Promise<UserDto> {
    const orgId = (await this.orgs.forMember(dto.org_id)).id;
    const user = this.users.create({
      username: dto.username,
      passwordHash: await this.crypto.hashPassword(dto.password),
      givenName: dto.given_name ?? null,
      familyName: dto.family_name ?? null,
      email: dto.email ?? null,
      role: dto.role ?? 'user',
      orgId,
    });
    try {
      await this.users.manager.transaction(async (tx) => {
        await tx.insert(UserEntity, user);
        await this.audit.record(tx, { type: 'user.created', subjectUserId: user.id, details: { username: user.username, role: user.role, org_id: orgId } });
      });
    } catch (e) {
      throw isUniqueViolation(e) ? duplicateUsername(dto.username) : e;
    }
    return UserDto.from(await this.users.findOneByOrFail({ id: user.id }));
  }

  async list(query: PageQueryDto): Promise<Page<UserDto>> {
    return page(query, await this.users.findAndCount({ order: { registeredAt: 'ASC', id: 'ASC' }, skip: query.skip, take: query.per_page }), UserDto.from);
  }

  async get(id: string): Promise<UserDto> {
    return UserDto.from(await this.findOrThrow(id));
  }

  /**
   * A demotion or a new password ends everything the user holds (SPEC §7): their browser sessions, in the same
   * transaction as the change, and every refresh-token family and access token, before and after it — before, so
   * that a failed change leaves nothing worse than signed-out sessions; after, so that nothing issued in between
   * survives.
   */
  async update(id: string, dto: UpdateUserDto): Promise<UserDto> {
    const user = await this.findOrThrow(id);
    const demoted = dto.role === 'user' && user.role === 'admin';
    if (demoted) await this.assertNotLastAdmin(user);
    const endsCredentials = demoted || dto.password !== undefined;
    const fields = changedFields(user, dto);
    if (dto.username !== undefined) user.username = dto.username;
    if (dto.given_name !== undefined) user.givenName = dto.given_name;
    if (dto.family_name !== undefined) user.familyName = dto.family_name;
    if (dto.email !== undefined) user.email = dto.email;
    if (dto.role !== undefined) user.role = dto.role;
    if (dto.password !== undefined) user.passwordHash = await this.crypto.hashPassword(dto.password);
    if (endsCredentials) {
      user.tokensNotBefore = new Date();
      await this.hooks.revokeUserTokens(user.id);
    }
    try {
      await this.users.manager.transaction(async (tx) => {
        await tx.save(user);
        if (endsCredentials) await tx.delete(BrowserSessionEntity, { userId: user.id });
        // A demotion is an event of its own; anything else the same request changed is `user.changed`.
        if (demoted) await this.audit.record(tx, { type: 'user.demoted', subjectUserId: user.id, details: { username: user.username, from: 'admin', to: 'user' } });
        const others = fields.filter((f) => !(demoted && f === 'role'));
        if (!demoted || others.length > 0) {
          await this.audit.record(tx, { type: 'user.changed', subjectUserId: user.id, details: { username: user.username, fields: others, ...(others.includes('role') ? { role: user.role } : {}) } });
        }
      });
    } catch (e) {
      throw isUniqueViolation(e) ? duplicateUsername(user.username) : e;
    } finally {
      this.byId.clear();
    }
    if (endsCredentials) await this.hooks.revokeUserTokens(user.id);
    return UserDto.from(await this.findOrThrow(id));
  }

  /**
   * The user's sessions, grants, codes and refresh tokens go with them (ON DELETE CASCADE); the database denies the
   * access tokens of the deleted rows in the same transaction (migration TokensDieWithTheirSource), and this
   * instance has heard of it before answering.
   */
  async remove(id: string): Promise<void> {
    const user = await this.findOrThrow(id);
    if (user.role === 'admin') await this.assertNotLastAdmin(user);
    await this.users.manager.transaction(async (tx) => {
      await tx.delete(UserEntity, { id: user.id });
      await this.audit.record(tx, { type: 'user.deleted', subjectUserId: user.id, details: { username: user.username, role: user.role } });
    });
    this.byId.clear();
    await this.notifications.flush();
  }

  /** Read fresh from the table, to change or to show. */
  private async findOrThrow(id: string): Promise<UserEntity> {
    const user = isUuid(id) ? await this.users.findOneBy({ id }) : null;
    if (!user) throw notFound('No user with this id');
    return user;
  }

  /** Nobody could administer the server any more. */
  private async assertNotLastAdmin(user: UserEntity): Promise<void> {
    if ((await this.users.countBy({ role: 'admin' })) <= 1) {
      throw conflict(`"${user.username}" is the last admin; make another admin first`);
    }
  }
}

export type CredentialCheck =
  | { readonly ok: true; readonly user: UserEntity }
  | { readonly ok: false; readonly claimed: Pick<UserEntity, 'id' | 'username'> | null };

/**
 * The fields a change really changes, by their API names: a value sent equal to the stored one is no change. A new
 * password always is (only its name is recorded, never a value).
 */
function changedFields(user: UserEntity, dto: UpdateUserDto): string[] {
  const fields: string[] = [];
  if (dto.username !== undefined && dto.username !== user.username) fields.push('username');
  if (dto.given_name !== undefined && dto.given_name !== user.givenName) fields.push('given_name');
  if (dto.family_name !== undefined && dto.family_name !== user.familyName) fields.push('family_name');
  if (dto.email !== undefined && dto.email !== user.email) fields.push('email');
  if (dto.role !== undefined && dto.role !== user.role) fields.push('role');
  if (dto.password !== undefined) fields.push('password');
  return fields;
}

const byName = (username: string) => Raw((alias) => `lower(${alias}) = lower(:username)`, { username });
const selectWithHash = { id: true, username: true, passwordHash: true, role: true, orgId: true, givenName: true, familyName: true, email: true, registeredAt: true, tokensNotBefore: true } as const;

const duplicateUsername = (username: string) =>
  conflict(`A user named "${username}" already exists`, [
    { name: 'username', error: 'not_unique', title: 'A user with this username already exists', pointer: '/username' },
  ]);

