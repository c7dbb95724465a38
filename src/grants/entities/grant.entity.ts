import {
  Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn,
} from 'typeorm';
import { AppEntity } from '../../clients/entities/app.entity';
import { UserEntity } from '../../identity/entities/user.entity';

/**
 * What one user allowed one app. Codes and refresh tokens hang off it, so deleting a grant (or its user or app)
 * cascades to everything issued under it.
 */
@Entity({ name: 'grants' })
@Index('UQ_grants_user_id_app_id', ['userId', 'appId'], { unique: true })
@Index('IDX_grants_app_id', ['appId'])
export class GrantEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'FK_grants_user_id' })
  user?: UserEntity;

  @Column({ name: 'app_id', type: 'uuid' })
  appId!: string;

  @ManyToOne(() => AppEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'app_id', foreignKeyConstraintName: 'FK_grants_app_id' })
  app?: AppEntity;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  scopes!: string[];

  /** RFC 8707 resources the user approved for this app; consent memory covers them as it covers scopes. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  resources!: string[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;
}
