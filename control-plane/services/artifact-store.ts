// Content-addressed artifact files: `<dir>/sha256/<first 2 hex>/<sha256>`. Bytes are streamed to a
// temporary file while hashed (a "staged" artifact), then renamed into place, so a reader never sees
// a partial artifact and the same bytes uploaded twice are stored once. Staging is separate from
// committing so an upload can be checked (its ONNX signature read from the staged file) before it
// enters the store, and a refused one leaves nothing behind. The files are not part of the database
// transaction: a file whose version row was rolled back is an orphan that a later upload of the same
// bytes reuses.
//
// With a KEK provider the store encrypts (artifact-crypto.ts): each file is framed AES-256-GCM under
// its own data key, wrapped by the KEK into `<file>.key`. The digest is always the plaintext's (the
// one the signed statement names), and readers get plaintext. A file without a `.key` beside it is
// plaintext from before encryption was turned on: it is still read, and `sluice keys rotate-kek`
// or the next upload of the same bytes encrypts it.
import { createHash, randomBytes } from 'node:crypto';
import { finished, pipeline } from 'node:stream/promises';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { SluiceError } from '../../lib/errors.js';
import { FrameOpener, FrameSealer, openEncryptedSource, plaintextSize, type KekProvider, type WrappedKey } from './artifact-crypto.js';
import { readOnnxSignatureFrom, readOnnxSignatureFromFile, type TensorSignature } from './onnx-signature.js';

const SHA256 = /^[0-9a-f]{64}$/;

export interface StoredArtifact {
  sha256: string;
  size: number;
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
  constructor(
    readonly dir: string,
    /** Largest artifact accepted. */
    readonly maxBytes: number,
    /** Encrypt what is stored under data keys wrapped by this KEK; undefined: plaintext. */
    readonly kek?: KekProvider,
  ) {
    mkdirSync(join(dir, 'tmp'), { recursive: true });
  }

  static isDigest(value: string): boolean {
    return SHA256.test(value);
  }

  pathOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw new SluiceError('SLUICE_E_VALIDATION', 'not a sha256 digest', { details: { sha256 } });
    return join(this.dir, 'sha256', sha256.slice(0, 2), sha256);
  }

  /** Size of a stored artifact (its plaintext), or undefined when its file is missing. */
  sizeOf(sha256: string): number | undefined {
    const p = this.pathOf(sha256);
    const size = statSync(p, { throwIfNoEntry: false })?.size;
    return size === undefined || !existsSync(`${p}.key`) ? size : plaintextSize(size);
  }

  /** The plaintext of a stored artifact, decrypted frame by frame as it is read. */
  async open(sha256: string): Promise<Readable> {
    const path = this.pathOf(sha256);
    const dek = await this.dataKeyOf(path);
    const file = createReadStream(path);
    if (!dek) return file;
    const out = new PassThrough();
    pipeline(file, new FrameOpener(dek), out).catch((err: unknown) => out.destroy(err as Error));
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

  private async dataKeyOf(path: string): Promise<Buffer | undefined> {
    let text: string;
    try {
      text = readFileSync(`${path}.key`, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw storeFailed(err as Error);
    }
    const wrapped = JSON.parse(text) as WrappedKey;
    if (!this.kek) throw new SluiceError('SLUICE_E_KEK_INVALID', `artifact ${path} is encrypted and no KEK is configured (--kek-file or SLUICE_KEK)`);
    if (wrapped.kek !== this.kek.keyId) throw new SluiceError('SLUICE_E_KEK_INVALID', `artifact ${path} is wrapped by KEK ${wrapped.kek}, not the configured ${this.kek.keyId}`);
    return this.kek.unwrap(Buffer.from(wrapped.wrapped, 'base64'));
  }

  /**
   * Re-wrap every data key from `from` (the KEK they are wrapped by now) to this store's KEK, and
   * encrypt any plaintext file left from before encryption. Data frames are not touched by the
   * re-wrap. Returns how many keys were re-wrapped and files encrypted.
   */
  async rewrap(from: KekProvider | undefined): Promise<{ rewrapped: number; encrypted: number }> {
    if (!this.kek) throw new SluiceError('SLUICE_E_KEK_INVALID', 'no KEK to wrap under');
    let rewrapped = 0;
    let encrypted = 0;
    const root = join(this.dir, 'sha256');
    for (const prefix of existsSync(root) ? readdirSync(root) : []) {
      for (const name of readdirSync(join(root, prefix))) {
        if (!SHA256.test(name)) continue;
        const path = join(root, prefix, name);
        if (existsSync(`${path}.key`)) {
          const wrapped = JSON.parse(readFileSync(`${path}.key`, 'utf8')) as WrappedKey;
          if (wrapped.kek === this.kek.keyId) continue;
          if (!from || wrapped.kek !== from.keyId) throw new SluiceError('SLUICE_E_KEK_INVALID', `artifact ${name} is wrapped by KEK ${wrapped.kek}; give that KEK as the old one`);
          const dek = await from.unwrap(Buffer.from(wrapped.wrapped, 'base64'));
          writeKeyFile(path, { kek: this.kek.keyId, wrapped: (await this.kek.wrap(dek)).toString('base64') });
          rewrapped++;
        } else {
          const staged = await this.stage(createReadStream(path));
          if (staged.sha256 !== name) {
            staged.discard();
            throw new SluiceError('SLUICE_E_ARTIFACT_TAMPERED', `plaintext artifact ${name} does not match its digest; left as it is`);
          }
          this.commit(staged);
          encrypted++;
        }
      }
    }
    return { rewrapped, encrypted };
  }

  async put(chunks: AsyncIterable<Uint8Array>): Promise<StoredArtifact> {
    return this.commit(await this.stage(chunks));
  }

  /** Stream `chunks` to a temporary file while hashing; over `maxBytes`, empty or failed: nothing is left. */
  async stage(chunks: AsyncIterable<Uint8Array>): Promise<StagedArtifact> {
    const tmp = join(this.dir, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
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

  /** Move a staged artifact into place under its digest. */
  commit(staged: StagedArtifact): StoredArtifact {
    const path = this.pathOf(staged.sha256);
    mkdirSync(join(this.dir, 'sha256', staged.sha256.slice(0, 2)), { recursive: true });
    try {
      // The same bytes already stored in the form this store writes: keep them (readers may be
      // streaming them). Otherwise (new, or plaintext from before encryption) the staged file
      // takes the place, its key file first.
      if (existsSync(path) && existsSync(`${path}.key`) === (staged.key !== undefined)) {
        staged.discard();
        return { sha256: staged.sha256, size: staged.size, path };
      }
      if (staged.key) writeKeyFile(path, staged.key.wrapped);
      renameSync(staged.path, path);
    } catch (err) {
      staged.discard();
      throw storeFailed(err as Error);
    }
    return { sha256: staged.sha256, size: staged.size, path };
  }
}

/** Write `<path>.key` (0600) by rename, so a reader sees the old key file or the new one. */
function writeKeyFile(path: string, wrapped: WrappedKey): void {
  const tmp = `${path}.key.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(wrapped)}\n`, { mode: 0o600 });
  renameSync(tmp, `${path}.key`);
}

function storeFailed(cause: Error): SluiceError {
  return new SluiceError('SLUICE_E_STORE_FAILED', `the artifact store could not write: ${(cause as NodeJS.ErrnoException).code ?? cause.message}`, { cause });
}
