import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { Clock } from '../../common/clock';
import { CryptoService } from '../../common/crypto/crypto.service';
import { isUniqueViolation } from '../../common/database';
import { Page, page, PageQueryDto } from '../../common/pagination';
import { conflict, notFound } from '../../common/problem/problem';
import { isUuid } from '../../common/uuid';
import { BearerTokenRegistry, BearerTokenVerifier } from '../auth/bearer-token-registry';
import type { ServiceAccountPrincipal } from '../auth/principal';
import { ServiceAccountEntity } from '../entities/service-account.entity';
import { OrgsService } from '../orgs/orgs.service';
import {
  CreatedServiceAccountDto, CreateServiceAccountDto, ServiceAccountDto, UpdateServiceAccountDto,
} from './dto/service-account.dto';

/** Recognisable in logs, secret scanners and support tickets. */
export const SERVICE_ACCOUNT_TOKEN_PREFIX = 'pcsa_';
/** `last_used_at` is written at most this often per account, so a busy account does not write on every call. */
const LAST_USED_RESOLUTION_MS = 60_000;

@Injectable()
export class ServiceAccountsService implements OnModuleInit, BearerTokenVerifier {
  constructor(
    @InjectRepository(ServiceAccountEntity) private readonly accounts: Repository<ServiceAccountEntity>,
    private readonly orgs: OrgsService,
    private readonly crypto: CryptoService,
    private readonly clock: Clock,
    private readonly bearer: BearerTokenRegistry,
  ) {}

  onModuleInit(): void {
    this.bearer.register(this);
  }

  /** A live service account's token (prefix + 256 random bits), looked up by its SHA-256. */
  async verify(token: string): Promise<ServiceAccountPrincipal | undefined> {
    if (!token.startsWith(SERVICE_ACCOUNT_TOKEN_PREFIX) || token.length > 100) return undefined;
    const account = await this.accounts.findOneBy({ tokenHash: this.crypto.sha256Hex(token), revokedAt: IsNull() });
    if (!account) return undefined;
    const now = this.clock.now();
    if (!account.lastUsedAt || now.getTime() - account.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await this.accounts.update({ id: account.id }, { lastUsedAt: now });
    }
    return { kind: 'service_account', serviceAccountId: account.id, name: account.name, role: account.role, orgId: account.orgId, via: 'service_account_token' };
  }

  async create(dto: CreateServiceAccountDto): Promise<CreatedServiceAccountDto> {
    const org = await this.orgs.forMember(dto.org_id);
    const token = SERVICE_ACCOUNT_TOKEN_PREFIX + this.crypto.randomToken(32);
    const account = this.accounts.create({ name: dto.name, role: dto.role ?? 'user', orgId: org.id, tokenHash: this.crypto.sha256Hex(token) });
    try {
      await this.accounts.insert(account);
    } catch (e) {
      throw isUniqueViolation(e) ? duplicateName(dto.name) : e;
    }
    return { ...ServiceAccountDto.from(await this.findOrThrow(account.id)), token };
  }

  async list(query: PageQueryDto): Promise<Page<ServiceAccountDto>> {
    return page(query, await this.accounts.findAndCount({ order: { createdAt: 'ASC', id: 'ASC' }, skip: query.skip, take: query.per_page }), ServiceAccountDto.from);
  }

  async get(id: string): Promise<ServiceAccountDto> {
    return ServiceAccountDto.from(await this.findOrThrow(id));
  }

  async update(id: string, dto: UpdateServiceAccountDto): Promise<ServiceAccountDto> {
    const account = await this.findOrThrow(id);
    if (dto.name !== undefined) account.name = dto.name;
    if (dto.role !== undefined) account.role = dto.role;
    try {
      await this.accounts.update({ id }, { name: account.name, role: account.role });
    } catch (e) {
      throw isUniqueViolation(e) ? duplicateName(account.name) : e;
    }
    return this.get(id);
  }

  /** The token stops working at once; the account stays listed, marked revoked. */
  async revoke(id: string): Promise<ServiceAccountDto> {
    await this.findOrThrow(id);
    await this.accounts.update({ id, revokedAt: IsNull() }, { revokedAt: this.clock.now() });
    return this.get(id);
  }

  async remove(id: string): Promise<void> {
    await this.accounts.delete({ id: (await this.findOrThrow(id)).id });
  }

  private async findOrThrow(id: string): Promise<ServiceAccountEntity> {
    const account = isUuid(id) ? await this.accounts.findOneBy({ id }) : null;
    if (!account) throw notFound('No service account with this id');
    return account;
  }
}

const duplicateName = (name: string) =>
  conflict(`A service account named "${name}" already exists`, [
    { name: 'name', error: 'not_unique', title: 'A service account with this name already exists', pointer: '/name' },
  ]);

