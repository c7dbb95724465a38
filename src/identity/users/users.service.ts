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
    tableChanges: TableChanges,
  ) {
    this.byId = tableChanges.cache<UserEntity>('users', (id) => this.users.findOneBy({ id }), { max: 50_000, ttlMs: 5 * 60_000 });
  }

  async onModuleInit(): Promise<void> {
    this.dummyHash = await this.crypto.hashPassword(this.crypto.randomToken(16));
  }

  /**
   * The user whose username (case-insensitively) and password match, or undefined. One bcrypt comparison
   * happens whether or not the user exists.
   */
  async verifyCredentials(username: string, password: string): Promise<UserEntity | undefined> {
    const user = username.length <= 64 && Buffer.byteLength(password) <= 72
      ? await this.users.findOne({ where: { username: byName(username) }, select: selectWithHash })
      : null;
    const ok = await this.crypto.verifyPassword(password, user?.passwordHash ?? this.dummyHash);
    return ok && user ? user : undefined;
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

  /** The id of the user with this username (case-insensitively), for the admin CLI. */
  async idOf(username: string): Promise<string | null> {
    return (await this.users.findOne({ where: { username: byName(username) }, select: { id: true } }))?.id ?? null;
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
      await this.users.insert(user);
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
    if (dto.role === 'user' && user.role === 'admin') await this.assertNotLastAdmin(user);
    const endsCredentials = (dto.role === 'user' && user.role === 'admin') || dto.password !== undefined;
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
    await this.users.delete({ id: user.id });
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

const byName = (username: string) => Raw((alias) => `lower(${alias}) = lower(:username)`, { username });
const selectWithHash = { id: true, username: true, passwordHash: true, role: true, orgId: true, givenName: true, familyName: true, email: true, registeredAt: true, tokensNotBefore: true } as const;

const duplicateUsername = (username: string) =>
  conflict(`A user named "${username}" already exists`, [
    { name: 'username', error: 'not_unique', title: 'A user with this username already exists', pointer: '/username' },
  ]);

