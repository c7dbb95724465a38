import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { returnedRows } from '../common/database';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importJWK, importPKCS8, JWK, KeyLike } from 'jose';
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { DataSource, LessThan, Repository } from 'typeorm';
import { Clock } from '../common/clock';
import { PublishedDocument, publishedDocument } from '../common/http/published-documents';
import { AppConfig, ConfigError } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { DatabaseNotifications } from '../database/notifications.service';
import { AuditTrail } from '../identity/audit/audit-trail.service';
import { SigningKeyEntity } from './entities/signing-key.entity';

export const SIGNING_ALG = 'ES256';
export const JWKS_CACHE_CONTROL = 'public, max-age=60';
const KEYS_CHANNEL = 'portcullis_signing_keys';
/** Clock skew allowed to verifiers when a retired key leaves the JWKS. */
const PUBLISH_MARGIN_S = 300;
/** An unknown `kid` reloads the keys at most this often (a rotation on another instance). */
const RELOAD_MIN_INTERVAL_MS = 1000;
/** Arbitrary, fixed: serialises key rotations. */
const ROTATION_LOCK_KEY = '8102082353617037422';

interface LoadedKey {
  readonly kid: string;
  readonly publicJwk: JWK;
  readonly publicKey: KeyLike;
  readonly publishUntil: Date | null;
}

/**
 * ES256 signing keys kept in the database (SPEC §4): one active key signs; retired keys stay published in the
 * JWKS until every token they signed has expired. Private keys are AES-256-GCM encrypted at rest when
 * KEY_ENCRYPTION_SECRET is set. A rotation on one instance reaches the others by NOTIFY.
 */
@Injectable()
export class SigningKeysService implements OnModuleInit {
  private readonly logger = new Logger(SigningKeysService.name);
  private active?: { kid: string; privateKey: KeyLike };
  private published: LoadedKey[] = [];
  private jwksBuilt?: { document: PublishedDocument; until: number };
  private lastReload = 0;
  /** Reloads run one after another: a slow earlier read must never overwrite what a later one loaded. */
  private reloads: Promise<void> = Promise.resolve();
  private readonly encryptionKey?: Buffer;

  constructor(
    @InjectRepository(SigningKeyEntity) private readonly keys: Repository<SigningKeyEntity>,
    private readonly dataSource: DataSource,
    private readonly notifications: DatabaseNotifications,
    private readonly clock: Clock,
    private readonly audit: AuditTrail,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const secret = config.authorizationServer.keyEncryptionSecret;
    this.encryptionKey = secret ? scryptSync(secret, 'portcullis-signing-keys-v1', 32) : undefined;
  }

  async onModuleInit(): Promise<void> {
    if (this.encryptionKey) await this.encryptPlaintextKeys();
    else this.logger.warn('KEY_ENCRYPTION_SECRET is not set: private signing keys are stored unencrypted in the database');
    await this.ensureActiveKey();
    await this.notifications.subscribe(KEYS_CHANNEL, {
      onNotification: () => void this.reload().catch((err) => this.logger.warn({ err }, 'reloading signing keys failed')),
      onConnected: () => this.reload(),
    });
  }

  /** The key that signs now. */
  signingKey(): { kid: string; privateKey: KeyLike } {
    if (!this.active) throw new Error('no active signing key loaded');
    return this.active;
  }

  /** The public key for a token's `kid`; an unknown kid may come from a rotation elsewhere, so reload once. */
  async publicKey(kid: string): Promise<KeyLike | undefined> {
    const find = () => this.published.find((k) => k.kid === kid)?.publicKey;
    const known = find();
    if (known || Date.now() - this.lastReload < RELOAD_MIN_INTERVAL_MS) return known;
    await this.reload();
    return find();
  }

  /** RFC 7517 JWK Set of the active key and of the retired keys whose tokens may still be alive. */
  jwks(): { keys: JWK[] } {
    const now = this.clock.now();
    return {
      keys: this.published
        .filter((k) => !k.publishUntil || k.publishUntil > now)
        .map((k) => ({ ...k.publicJwk, kid: k.kid, alg: SIGNING_ALG, use: 'sig' })),
    };
  }

  /**
   * The JWKS, serialised once per change: rebuilt after every reload, and when a retired key's publication ends.
   * Short-lived in caches, so a rotation is picked up quickly.
   */
  jwksDocument(): PublishedDocument {
    const now = this.clock.now().getTime();
    if (!this.jwksBuilt || now >= this.jwksBuilt.until) {
      const ends = this.published.map((k) => k.publishUntil?.getTime() ?? Infinity).filter((t) => t > now);
      this.jwksBuilt = { document: publishedDocument(this.jwks(), JWKS_CACHE_CONTROL), until: Math.min(Infinity, ...ends) };
    }
    return this.jwksBuilt.document;
  }

  /** A new active key; the old one is retired but published until its last token has expired. */
  async rotate(): Promise<{ kid: string; retired: string[] }> {
    const created = await this.createKey();
    const retired = await this.dataSource.transaction(async (tx) => {
      // Rotations run one at a time, on every instance: each retires the key the previous one made.
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ROTATION_LOCK_KEY]);
      const now = this.clock.now();
      const publishUntil = new Date(now.getTime() + (this.config.authorizationServer.accessTokenTtl + PUBLISH_MARGIN_S) * 1000);
      const old = returnedRows<{ kid: string }>(await tx.query(
        `UPDATE signing_keys SET status = 'retired', retired_at = $1, publish_until = $2 WHERE status = 'active' RETURNING kid`,
        [now, publishUntil],
      ));
      await tx.insert(SigningKeyEntity, created);
      await tx.query('SELECT pg_notify($1, $2)', [KEYS_CHANNEL, created.kid]);
      await this.audit.record(tx, { type: 'signing_key.rotated', details: { kid: created.kid, retired: old.map((r) => r.kid) } });
      return old.map((r) => r.kid);
    });
    await this.reload();
    this.logger.log({ kid: created.kid, retired }, 'signing key rotated');
    return { kid: created.kid, retired };
  }

  /** Keys no token can need any more. */
  async pruneRetired(): Promise<number> {
    const { affected } = await this.keys.delete({ status: 'retired', publishUntil: LessThan(this.clock.now()) });
    return affected ?? 0;
  }

  /** Keys stored before a secret was configured (or generated) are encrypted in place, once, on every instance. */
  private async encryptPlaintextKeys(): Promise<void> {
    // Almost always nothing to do: no lock and no transaction on every start for it.
    if (!(await this.keys.existsBy({ encrypted: false }))) return;
    const encrypted = await this.dataSource.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ROTATION_LOCK_KEY]);
      const plain = await tx.createQueryBuilder(SigningKeyEntity, 'k').addSelect('k.privateKey').where('k.encrypted = false').getMany();
      for (const key of plain) await tx.update(SigningKeyEntity, { kid: key.kid }, { privateKey: this.encrypt(key.privateKey), encrypted: true });
      return plain.length;
    });
    if (encrypted > 0) this.logger.log({ count: encrypted }, 'signing keys encrypted at rest');
  }

  private async ensureActiveKey(): Promise<void> {
    if (await this.keys.existsBy({ status: 'active' })) return;
    // Two instances starting on an empty database race here; the partial unique index lets exactly one win.
    await this.keys.createQueryBuilder().insert().values(await this.createKey()).orIgnore().execute();
  }

  private reload(): Promise<void> {
    this.lastReload = Date.now();
    const next = this.reloads.then(() => this.load());
    this.reloads = next.catch(() => undefined);
    return next;
  }

  private async load(): Promise<void> {
    const rows = await this.keys.createQueryBuilder('k').addSelect('k.privateKey').getMany();
    const active = rows.find((r) => r.status === 'active');
    if (!active) throw new Error('no active signing key in the database');
    this.published = await Promise.all(
      rows.map(async (r) => ({ kid: r.kid, publicJwk: { ...r.publicJwk }, publicKey: (await importJWK({ ...r.publicJwk }, SIGNING_ALG)) as KeyLike, publishUntil: r.publishUntil })),
    );
    this.active = { kid: active.kid, privateKey: await importPKCS8(this.decrypt(active), SIGNING_ALG) };
    this.jwksBuilt = undefined;
  }

  private async createKey(): Promise<Pick<SigningKeyEntity, 'kid' | 'alg' | 'status' | 'publicJwk' | 'privateKey' | 'encrypted'>> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const pem = await exportPKCS8(privateKey);
    return {
      kid: await calculateJwkThumbprint(publicJwk),
      alg: SIGNING_ALG,
      status: 'active',
      publicJwk: { kty: publicJwk.kty!, crv: publicJwk.crv!, x: publicJwk.x!, y: publicJwk.y! },
      privateKey: this.encryptionKey ? this.encrypt(pem) : pem,
      encrypted: Boolean(this.encryptionKey),
    };
  }

  private encrypt(pem: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey!, iv);
    const ciphertext = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join(':');
  }

  private decrypt(row: SigningKeyEntity): string {
    if (!row.encrypted) return row.privateKey;
    if (!this.encryptionKey) throw new ConfigError(`signing key ${row.kid} is encrypted: set KEY_ENCRYPTION_SECRET (with the embedded database it is in the data directory)`);
    const [, iv, tag, ciphertext] = row.privateKey.split(':');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, Buffer.from(iv, 'base64'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      // One clear line at start-up (SPEC §1), not a bare "unable to authenticate data".
      throw new ConfigError(`KEY_ENCRYPTION_SECRET does not decrypt signing key ${row.kid}: it is not the secret the keys were encrypted with`);
    }
  }
}
