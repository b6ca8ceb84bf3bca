// Content-addressed artifact files: `<dir>/sha256/<first 2 hex>/<sha256>`. Bytes are streamed to a
// temporary file while hashed (a "staged" artifact), then renamed into place, so a reader never sees
// a partial artifact and the same bytes uploaded twice are stored once. Staging is separate from
// committing so an upload can be checked (its ONNX signature read from the staged file) before it
// enters the store, and a refused one leaves nothing behind. The files are not part of the database
// transaction: a file whose version row was rolled back is an orphan that a later upload of the same
// bytes reuses.
import { createHash, randomBytes } from 'node:crypto';
import { finished } from 'node:stream/promises';
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, statSync, type ReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { SluiceError } from '../../lib/errors.js';

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
  ) {}

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await readFile(this.path);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  discard(): void {
    rmSync(this.path, { force: true });
  }
}

export class ArtifactStore {
  constructor(
    readonly dir: string,
    /** Largest artifact accepted. */
    readonly maxBytes: number,
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

  /** Size of a stored artifact, or undefined when its file is missing. */
  sizeOf(sha256: string): number | undefined {
    const p = this.pathOf(sha256);
    return statSync(p, { throwIfNoEntry: false })?.size;
  }

  open(sha256: string): ReadStream {
    return createReadStream(this.pathOf(sha256));
  }

  async put(chunks: AsyncIterable<Uint8Array>): Promise<StoredArtifact> {
    return this.commit(await this.stage(chunks));
  }

  /** Stream `chunks` to a temporary file while hashing; over `maxBytes`, empty or failed: nothing is left. */
  async stage(chunks: AsyncIterable<Uint8Array>): Promise<StagedArtifact> {
    const tmp = join(this.dir, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
    const out = createWriteStream(tmp, { mode: 0o644 });
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
      await finished(out).catch((err: Error) => {
        throw storeFailed(err);
      });
      if (failure) throw storeFailed(failure);
    } catch (err) {
      out.destroy();
      rmSync(tmp, { force: true });
      throw err;
    }
    if (size === 0) {
      rmSync(tmp, { force: true });
      throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', 'artifact is empty');
    }
    return new StagedArtifact(hash.digest('hex'), size, tmp);
  }

  /** Move a staged artifact into place under its digest. */
  commit(staged: StagedArtifact): StoredArtifact {
    const path = this.pathOf(staged.sha256);
    mkdirSync(join(this.dir, 'sha256', staged.sha256.slice(0, 2)), { recursive: true });
    try {
      renameSync(staged.path, path);
    } catch (err) {
      staged.discard();
      throw storeFailed(err as Error);
    }
    return { sha256: staged.sha256, size: staged.size, path };
  }
}

function storeFailed(cause: Error): SluiceError {
  return new SluiceError('SLUICE_E_STORE_FAILED', `the artifact store could not write: ${(cause as NodeJS.ErrnoException).code ?? cause.message}`, { cause });
}
