// The PostgreSQL blob driver, for control-plane replicas that share the database and no disk. A blob
// is one `artifact_blobs` row and its stored bytes cut into `artifact_chunks` rows of CHUNK_BYTES:
// placed in one transaction (a failure, or the process dying, leaves no row), read back a few chunks
// per query as the consumer asks (a download never holds more than READ_BATCH chunks), and checked
// on the way out (every chunk present, the stored size, and for plaintext the digest), so an altered
// or missing chunk ends the stream with SLUICE_E_ARTIFACT_TAMPERED. Encrypted blobs are checked by
// their frames' tags above this driver.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, mkdirSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { SluiceError } from '../../lib/errors.js';
import { toStoreError, type Db, type Store } from './db.js';
import type { BlobInfo, BlobStore, WrappedKey } from './blob-store.js';

/**
 * 512 KiB: a 64 MiB artifact is 128 rows (few round trips), and one row (sent as a binary
 * parameter, read back as hex text and decoded) stays a few MiB of memory at most.
 */
export const CHUNK_BYTES = 512 * 1024;
/** Chunks fetched per query while reading: 1 MiB in flight per download. */
const READ_BATCH = 2;
const SHA256 = /^[0-9a-f]{64}$/;

export class PgBlobStore implements BlobStore {
  readonly kind = 'postgres' as const;

  constructor(
    private readonly store: Store,
    /** This replica's staging folder (uploads are staged here, then copied into the database). */
    readonly tmpDir: string,
  ) {
    mkdirSync(tmpDir, { recursive: true });
  }

  async place(sha256: string, file: string, size: number, key: WrappedKey | undefined): Promise<string> {
    checkDigest(sha256);
    const wrapped = key === undefined ? null : JSON.stringify(key);
    try {
      await this.store.db.transaction().execute(async (tx) => {
        // A concurrent placement of the same digest waits here on the other's uncommitted row.
        const inserted = await tx
          .insertInto('artifact_blobs')
          .values({ sha256, size, stored_size: 0, chunks: 0, wrapped_key: wrapped, created_at: new Date().toISOString() })
          .onConflict((oc) => oc.column('sha256').doNothing())
          .returning('sha256')
          .executeTakeFirst();
        if (!inserted) {
          const existing = await this.store.forUpdate(tx.selectFrom('artifact_blobs').select('wrapped_key').where('sha256', '=', sha256)).executeTakeFirst();
          if (existing && (existing.wrapped_key !== null) === (key !== undefined)) return;
          // Plaintext from before encryption (or the reverse): replaced whole in this transaction.
          await tx.deleteFrom('artifact_chunks').where('sha256', '=', sha256).execute();
        }
        let seq = 0;
        let stored = 0;
        for await (const chunk of createReadStream(file, { highWaterMark: CHUNK_BYTES })) {
          await tx.insertInto('artifact_chunks').values({ sha256, seq: seq++, data: chunk as Buffer }).execute();
          stored += (chunk as Buffer).byteLength;
        }
        await tx.updateTable('artifact_blobs').set({ size, stored_size: stored, chunks: seq, wrapped_key: wrapped }).where('sha256', '=', sha256).execute();
      });
    } catch (err) {
      throw toStoreError(err, 'the artifact store could not write');
    } finally {
      rmSync(file, { force: true });
    }
    return `artifact_blobs/${sha256}`;
  }

  async info(sha256: string): Promise<BlobInfo | undefined> {
    checkDigest(sha256);
    const row = await this.store.db.selectFrom('artifact_blobs').select(['size', 'wrapped_key']).where('sha256', '=', sha256).executeTakeFirst().catch((err: unknown) => {
      throw toStoreError(err);
    });
    return row ? { size: Number(row.size), key: row.wrapped_key === null ? undefined : (JSON.parse(row.wrapped_key) as WrappedKey) } : undefined;
  }

  async read(sha256: string): Promise<Readable | undefined> {
    checkDigest(sha256);
    const row = await this.store.db.selectFrom('artifact_blobs').select(['chunks', 'stored_size', 'wrapped_key']).where('sha256', '=', sha256).executeTakeFirst().catch((err: unknown) => {
      throw toStoreError(err);
    });
    if (!row) return undefined;
    return new ChunkReader(this.store.db, sha256, row.chunks, Number(row.stored_size), row.wrapped_key === null);
  }

  async setKey(sha256: string, key: WrappedKey): Promise<void> {
    await this.store.db.updateTable('artifact_blobs').set({ wrapped_key: JSON.stringify(key) }).where('sha256', '=', sha256).execute().catch((err: unknown) => {
      throw toStoreError(err, 'the artifact store could not write');
    });
  }

  async *list(): AsyncIterable<string> {
    const rows = await this.store.db.selectFrom('artifact_blobs').select('sha256').orderBy('sha256').execute();
    for (const r of rows) yield r.sha256;
  }
}

/** A blob's stored bytes, READ_BATCH chunks per query, fetched only when the consumer wants more. */
class ChunkReader extends Readable {
  private next = 0;
  private bytes = 0;
  private readonly hash: Hash | undefined;

  constructor(
    private readonly db: Db,
    private readonly sha256: string,
    private readonly chunks: number,
    private readonly storedSize: number,
    plaintext: boolean,
  ) {
    super({ highWaterMark: CHUNK_BYTES });
    this.hash = plaintext ? createHash('sha256') : undefined;
  }

  override _read(): void {
    const from = this.next;
    const to = Math.min(this.chunks, from + READ_BATCH);
    this.next = to;
    if (from === to) {
      this.finish();
      return;
    }
    this.db
      .selectFrom('artifact_chunks')
      .select(['seq', 'data'])
      .where('sha256', '=', this.sha256)
      .where('seq', '>=', from)
      .where('seq', '<', to)
      .orderBy('seq')
      .execute()
      .then(
        (rows) => {
          if (this.destroyed) return;
          if (rows.length !== to - from || rows.some((r, i) => r.seq !== from + i)) {
            this.destroy(tampered(this.sha256, `chunks ${from}..${to - 1} are not all there`));
            return;
          }
          for (const r of rows) {
            this.bytes += r.data.byteLength;
            this.hash?.update(r.data);
          }
          if (to === this.chunks) {
            for (const r of rows) this.push(r.data);
            this.finish();
            return;
          }
          for (const r of rows) this.push(r.data);
        },
        (err: unknown) => this.destroy(toStoreError(err, 'the artifact store could not read')),
      );
  }

  private finish(): void {
    if (this.bytes !== this.storedSize) this.destroy(tampered(this.sha256, `${this.bytes} bytes stored, ${this.storedSize} expected`));
    else if (this.hash && this.hash.digest('hex') !== this.sha256) this.destroy(tampered(this.sha256, 'the stored bytes do not match the digest'));
    else this.push(null);
  }
}

function checkDigest(sha256: string): void {
  if (!SHA256.test(sha256)) throw new SluiceError('SLUICE_E_VALIDATION', 'not a sha256 digest', { details: { sha256 } });
}

function tampered(sha256: string, message: string): SluiceError {
  return new SluiceError('SLUICE_E_ARTIFACT_TAMPERED', `artifact ${sha256}: ${message}`, { details: { sha256 } });
}
