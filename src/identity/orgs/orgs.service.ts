import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Raw, Repository } from 'typeorm';
import { isForeignKeyViolation, isUniqueViolation } from '../../common/database';
import { Page, page, PageQueryDto } from '../../common/pagination';
import { conflict, notFound, validationError } from '../../common/problem/problem';
import { isUuid } from '../../common/uuid';
import { OrgEntity } from '../entities/org.entity';
import { CreateOrgDto, OrgDto, UpdateOrgDto } from './dto/org.dto';

/** Users and service accounts belong here unless an admin names another org. */
export const DEFAULT_ORG = 'default';

@Injectable()
export class OrgsService {
  constructor(@InjectRepository(OrgEntity) private readonly orgs: Repository<OrgEntity>) {}

  /** The org by name, created when missing (the default org, the DCR org); safe under concurrent calls. */
  async ensure(name: string): Promise<OrgEntity> {
    await this.orgs.createQueryBuilder().insert().values({ name }).orIgnore().execute();
    return this.orgs.findOneOrFail({ where: { name: Raw((alias) => `lower(${alias}) = lower(:name)`, { name }) } });
  }

  /** The org a new user, service account or app joins: the one named by `org_id`, or (absent or null) the default org. */
  async forMember(orgId: string | null | undefined): Promise<OrgEntity> {
    if (orgId === undefined || orgId === null) return this.ensure(DEFAULT_ORG);
    const org = isUuid(orgId) ? await this.orgs.findOneBy({ id: orgId }) : null;
    if (!org) throw validationError([{ name: 'org_id', error: 'reference_not_found', title: 'No org with this id', pointer: '/org_id' }]);
    return org;
  }

  async create(dto: CreateOrgDto): Promise<OrgDto> {
    try {
      return OrgDto.from(await this.orgs.save(this.orgs.create({ name: dto.name, displayName: dto.display_name ?? null })));
    } catch (e) {
      throw isUniqueViolation(e) ? duplicateName(dto.name) : e;
    }
  }

  async list(query: PageQueryDto): Promise<Page<OrgDto>> {
    return page(query, await this.orgs.findAndCount({ order: { createdAt: 'ASC', id: 'ASC' }, skip: query.skip, take: query.per_page }), OrgDto.from);
  }

  async get(id: string): Promise<OrgDto> {
    return OrgDto.from(await this.findOrThrow(id));
  }

  async findOrThrow(id: string): Promise<OrgEntity> {
    const org = isUuid(id) ? await this.orgs.findOneBy({ id }) : null;
    if (!org) throw notFound('No org with this id');
    return org;
  }

  async update(id: string, dto: UpdateOrgDto): Promise<OrgDto> {
    const org = await this.findOrThrow(id);
    if (dto.name !== undefined) org.name = dto.name;
    if (dto.display_name !== undefined) org.displayName = dto.display_name;
    try {
      return OrgDto.from(await this.orgs.save(org));
    } catch (e) {
      throw isUniqueViolation(e) ? duplicateName(org.name) : e;
    }
  }

  async remove(id: string): Promise<void> {
    const org = await this.findOrThrow(id);
    try {
      await this.orgs.delete({ id: org.id });
    } catch (e) {
      if (isForeignKeyViolation(e)) throw conflict('The org still has users, service accounts or apps');
      throw e;
    }
  }
}

const duplicateName = (name: string) =>
  conflict(`An org named "${name}" already exists`, [
    { name: 'name', error: 'not_unique', title: 'An org with this name already exists', pointer: '/name' },
  ]);
