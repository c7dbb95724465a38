import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './src/database/data-source-options';

/**
 * The DataSource for the TypeORM CLI, e.g.
 *   DATABASE_URL=postgres://… npx typeorm-ts-node-commonjs -d ormconfig.ts migration:generate src/database/migrations/CreateX
 * The app builds its own from the same options (src/database/database.module.ts).
 */
export default new DataSource(dataSourceOptions(process.env.DATABASE_URL ?? 'postgres://postgres:postgres@localhost:5432/portcullis'));
