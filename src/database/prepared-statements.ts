import { Injectable } from '@nestjs/common';
import type { Pool, QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/** A statement of the hot paths, parsed and planned once per connection. */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

/** Declares a hot statement; the name must be unique in the process (pg keys its prepared statements by it). */
export function prepared(name: string, text: string): PreparedStatement {
  return { name, text };
}

/**
 * The hot paths (code exchange, refresh, authorize) talk to `pg` directly with named prepared statements: one
 * round trip each, parsed and planned once per connection, no query builder and no entity hydration. The pool is
 * TypeORM's own, so there is one pool and one set of connection settings.
 */
@Injectable()
export class PreparedStatements {
  private readonly pool: Pool;

  constructor(dataSource: DataSource) {
    this.pool = (dataSource.driver as PostgresDriver).master as Pool;
  }

  async rows<T extends QueryResultRow>(statement: PreparedStatement, values: readonly unknown[]): Promise<T[]> {
    const result = await this.pool.query<T>({ name: statement.name, text: statement.text, values: [...values] });
    return result.rows;
  }
}
