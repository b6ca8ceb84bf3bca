// Content-addressed artifacts over a blob driver (store/blob-store.ts: a folder, or PostgreSQL for
// replicas without a shared disk). Bytes are streamed to a temporary file on this machine while
// hashed (a "staged" artifact), then placed in the driver whole, so a reader never sees a partial
// artifact and the same bytes uploaded twice are stored once. Staging is separate from committing
// so an upload can be checked (its ONNX signature read from the staged file) before it enters the
// store, and a refused one leaves nothing behind. Blobs are not part of the registry's transaction:
// a blob whose version row was rolled back is an orphan that a later upload of the same bytes reuses.
//
// With a KEK provider the store encrypts (artifact-crypto.ts): each artifact is framed AES-256-GCM
// under its own data key, wrapped by the KEK and kept beside it; the drivers store the frames. The
// digest is always the plaintext's (the one the signed statement names), and readers get plaintext.
// A blob without a wrapped key is plaintext from before encryption was turned on: it is still read,
// and `sluice keys rotate-kek` or the next upload of the same bytes encrypts it.
import { createHash, randomBytes } from 'node:crypto';
import { finished, pipeline } from 'node:stream/promises';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { SluiceError } from '../../lib/errors.js';
import { FrameOpener, FrameSealer, openEncryptedSource, plaintextSize, type KekProvider, type WrappedKey } from './artifact-crypto.js';
import type { BlobStore } from '../store/blob-store.js';
import { FsBlobStore, storeFailed } from '../store/blob-fs.js';
import { readOnnxSignatureFrom, readOnnxSignatureFromFile, type TensorSignature } from './onnx-signature.js';

const SHA256 = /^[0-9a-f]{64}$/;

export interface StoredArtifact {
  sha256: string;
  size: number;
  /** Where the driver keeps it: a file path (fs), or `artifact_blobs/<sha256>` (postgres). */
  path: string;
}

/**
 * Bytes hashed and written to the store's temporary folder, not yet committed. Multipart uploads
 * arrive as these (the HTTP layer streams each file part here); `arrayBuffer()` serves resolvers
 * that take a small file (a config, a CSV) whole.
 */
export class StagedArtifact {
  constructor(
    readonly sha256: string,
    readonly size: number,
    /** The temporary file; gone once committed or discarded. */
    readonly path: string,
    /** Set when the temporary file is encrypted: its data key, plain and wrapped. */
    readonly key?: { dek: Buffer; wrapped: WrappedKey },
  ) {}

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = this.key ? await readWhole(createReadStream(this.path).pipe(new FrameOpener(this.key.dek))) : await readFile(this.path);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  /** The ONNX signature, reading only the graph's inputs and outputs (decrypting only their frames). */
  onnxSignature(): TensorSignature {
    if (!this.key) return readOnnxSignatureFromFile(this.path);
    const source = openEncryptedSource(this.path, this.key.dek);
    try {
      return readOnnxSignatureFrom(source);
    } finally {
      source.close();
    }
  }

  discard(): void {
    rmSync(this.path, { force: true });
  }
}

async function readWhole(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export class ArtifactStore {
  readonly blobs: BlobStore;

  constructor(
    /** Where stored bytes live: a folder (the fs driver) or a blob driver (store/blob-*.ts). */
    blobs: string | BlobStore,
    /** Largest artifact accepted. */
    readonly maxBytes: number,
    /** Encrypt what is stored under data keys wrapped by this KEK; undefined: plaintext. */
    readonly kek?: KekProvider,
  ) {
    this.blobs = typeof blobs === 'string' ? new FsBlobStore(blobs, plaintextSize) : blobs;
  }

  static isDigest(value: string): boolean {
    return SHA256.test(value);
  }

  /** Size of a stored artifact (its plaintext), or undefined when there is none. */
  async sizeOf(sha256: string): Promise<number | undefined> {
    return (await this.blobs.info(sha256))?.size;
  }

  /** The plaintext of a stored artifact, decrypted frame by frame as it is read. */
  async open(sha256: string): Promise<Readable> {
    const info = await this.blobs.info(sha256);
    const stored = info && (await this.blobs.read(sha256));
    if (!info || !stored) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no artifact ${sha256}`, { details: { sha256 } });
    if (!info.key) return stored;
    let dek: Buffer;
    try {
      dek = await this.dataKeyOf(sha256, info.key);
    } catch (err) {
      stored.destroy();
      throw err;
    }
    const out = new PassThrough();
    pipeline(stored, new FrameOpener(dek), out).catch((err: unknown) => out.destroy(err as Error));
    return out;
  }

  /** A stored artifact whole (configs, profiles, datasets, a gate's models). */
  async readAll(sha256: string): Promise<Buffer> {
    return readWhole(await this.open(sha256));
  }

  /** Whether stored files are encrypted (a KEK is configured). */
  get encrypted(): boolean {
    return this.kek !== undefined;
  }

  private async dataKeyOf(sha256: string, wrapped: WrappedKey): Promise<Buffer> {
    if (!this.kek) throw new SluiceError('SLUICE_E_KEK_INVALID', `artifact ${sha256} is encrypted and no KEK is configured (--kek-file or SLUICE_KEK)`);
    if (wrapped.kek !== this.kek.keyId) throw new SluiceError('SLUICE_E_KEK_INVALID', `artifact ${sha256} is wrapped by KEK ${wrapped.kek}, not the configured ${this.kek.keyId}`);
    return this.kek.unwrap(Buffer.from(wrapped.wrapped, 'base64'));
  }

  /**
   * Re-wrap every data key from `from` (the KEK they are wrapped by now) to this store's KEK, and
   * encrypt any plaintext artifact left from before encryption. Data frames are not touched by the
   * re-wrap. Returns how many keys were re-wrapped and artifacts encrypted.
   */
  async rewrap(from: KekProvider | undefined): Promise<{ rewrapped: number; encrypted: number }> {
    if (!this.kek) throw new SluiceError('SLUICE_E_KEK_INVALID', 'no KEK to wrap under');
    let rewrapped = 0;
    let encrypted = 0;
    for await (const name of this.blobs.list()) {
      const info = await this.blobs.info(name);
      if (!info) continue;
      if (info.key) {
        if (info.key.kek === this.kek.keyId) continue;
        if (!from || info.key.kek !== from.keyId) throw new SluiceError('SLUICE_E_KEK_INVALID', `artifact ${name} is wrapped by KEK ${info.key.kek}; give that KEK as the old one`);
        const dek = await from.unwrap(Buffer.from(info.key.wrapped, 'base64'));
        await this.blobs.setKey(name, { kek: this.kek.keyId, wrapped: (await this.kek.wrap(dek)).toString('base64') });
        rewrapped++;
      } else {
        const staged = await this.stage(await this.open(name));
        if (staged.sha256 !== name) {
          staged.discard();
          throw new SluiceError('SLUICE_E_ARTIFACT_TAMPERED', `plaintext artifact ${name} does not match its digest; left as it is`);
        }
        await this.commit(staged);
        encrypted++;
      }
    }
    return { rewrapped, encrypted };
  }

  async put(chunks: AsyncIterable<Uint8Array>): Promise<StoredArtifact> {
    return this.commit(await this.stage(chunks));
  }

  /** Stream `chunks` to a temporary file while hashing; over `maxBytes`, empty or failed: nothing is left. */
  async stage(chunks: AsyncIterable<Uint8Array>): Promise<StagedArtifact> {
    const tmp = join(this.blobs.tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
    const dek = this.kek ? randomBytes(32) : undefined;
    const file = createWriteStream(tmp, { mode: 0o600 });
    // Encrypted: plaintext goes through the frame sealer into the file; `out` is what we write to.
    const sealer = dek ? new FrameSealer(dek) : undefined;
    const out: Writable = sealer ?? file;
    const written = sealer ? pipeline(sealer, file) : undefined;
    written?.catch(() => undefined);
    // A write error (the folder gone, the disk full) can come while we wait for the body: keep it
    // for the loop below rather than let an unheard 'error' event end the process.
    let failure: Error | undefined;
    out.on('error', (err) => (failure ??= err));
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of chunks) {
        if (failure) throw storeFailed(failure);
        size += chunk.byteLength;
        if (size > this.maxBytes) {
          throw new SluiceError('SLUICE_E_HTTP_BODY_TOO_LARGE', `artifact is larger than ${this.maxBytes} bytes`, { details: { limit: this.maxBytes } });
        }
        hash.update(chunk);
        if (!out.write(chunk)) await once(out, 'drain').catch((err: Error) => {
          throw storeFailed(err);
        });
      }
      out.end();
      await (written ?? finished(out)).catch((err: Error) => {
        throw storeFailed(err);
      });
      if (failure) throw storeFailed(failure);
    } catch (err) {
      out.destroy();
      file.destroy();
      rmSync(tmp, { force: true });
      throw err;
    }
    if (size === 0) {
      rmSync(tmp, { force: true });
      throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', 'artifact is empty');
    }
    const sha256 = hash.digest('hex');
    if (!dek || !this.kek) return new StagedArtifact(sha256, size, tmp);
    try {
      return new StagedArtifact(sha256, size, tmp, { dek, wrapped: { kek: this.kek.keyId, wrapped: (await this.kek.wrap(dek)).toString('base64') } });
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** Put a staged artifact in the store under its digest (the staged file is gone afterwards). */
  async commit(staged: StagedArtifact): Promise<StoredArtifact> {
    const path = await this.blobs.place(staged.sha256, staged.path, staged.size, staged.key?.wrapped);
    return { sha256: staged.sha256, size: staged.size, path };
  }
}

