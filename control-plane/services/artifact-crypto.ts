// Artifacts encrypted at rest (issue 18). Each artifact has its own random 256-bit data key (DEK);
// the DEK is stored beside the artifact wrapped by a key-encryption key (KEK) from a provider, so
// rotating the KEK re-wraps small key files and never re-encrypts data.
//
// The data is AES-256-GCM in frames (the STREAM construction of Hoang, Reyhanitabar, Rogaway and
// Vizár, as used by age and Tink's streaming AEAD): the plaintext is cut into FRAME_BYTES chunks,
// frame i is sealed under nonce = 4 zero bytes || i (64-bit big-endian), with the associated data
// naming whether it is the last frame. So a large artifact is never whole in memory, each frame is
// authenticated on its own (a reader can seek to frame i), frames cannot be reordered, and a
// truncated file (its final frame missing) fails to decrypt. File layout: HEADER (magic, frame
// size), then frames of FRAME_BYTES + 16 (tag) bytes, the last one shorter (possibly empty).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { SluiceError } from '../../lib/errors.js';
import type { ByteSource } from './onnx-signature.js';

export const FRAME_BYTES = 64 * 1024;
const TAG_BYTES = 16;
const MAGIC = Buffer.from('SLCENC01');
export const HEADER_BYTES = MAGIC.length + 4;

export type { WrappedKey } from '../store/blob-store.js';

/**
 * Where the KEK lives. A KMS (AWS KMS, GCP KMS, Vault transit) implements the same three members:
 * `keyId` names the key version, `wrap` is its Encrypt call on the 32-byte DEK, `unwrap` its Decrypt.
 */
export interface KekProvider {
  readonly keyId: string;
  wrap(dek: Buffer): Promise<Buffer>;
  unwrap(wrapped: Buffer): Promise<Buffer>;
}

/** A KEK held locally (a 0600 file or an environment variable): AES-256-GCM key wrapping. */
export class LocalKek implements KekProvider {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new SluiceError('SLUICE_E_KEK_INVALID', `a KEK is 32 bytes (64 hex digits), got ${key.length} bytes`);
    this.keyId = `local:${createHash('sha256').update('sluice-kek-id').update(key).digest('hex').slice(0, 16)}`;
  }

  /**
   * The KEK in `file` (64 hex digits), created with a random key and mode 0600 when absent. A file
   * readable or writable by group or others is refused: the KEK protects every artifact.
   */
  static fromFile(file: string): LocalKek {
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    }
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new SluiceError('SLUICE_E_KEK_INVALID', `KEK file ${file} has mode ${mode.toString(8).padStart(4, '0')}: it must not be readable by group or others (chmod 600 ${file})`, {
        details: { file, mode: mode.toString(8) },
      });
    }
    return new LocalKek(parseHexKey(readFileSync(file, 'utf8'), `KEK file ${file}`));
  }

  /** The KEK in an environment variable (64 hex digits), e.g. SLUICE_KEK injected by a secret store. */
  static fromEnv(name: string, env: NodeJS.ProcessEnv = process.env): LocalKek {
    const value = env[name];
    if (value === undefined || value === '') throw new SluiceError('SLUICE_E_KEK_INVALID', `environment variable ${name} holds no KEK`);
    return new LocalKek(parseHexKey(value, `environment variable ${name}`));
  }

  async wrap(dek: Buffer): Promise<Buffer> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(this.keyId));
    const body = Buffer.concat([cipher.update(dek), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  async unwrap(wrapped: Buffer): Promise<Buffer> {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, wrapped.subarray(0, 12));
      decipher.setAAD(Buffer.from(this.keyId));
      decipher.setAuthTag(wrapped.subarray(12, 28));
      return Buffer.concat([decipher.update(wrapped.subarray(28)), decipher.final()]);
    } catch (err) {
      throw new SluiceError('SLUICE_E_KEK_INVALID', `a data key does not unwrap under KEK ${this.keyId}`, { cause: err });
    }
  }
}

function parseHexKey(text: string, where: string): Buffer {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new SluiceError('SLUICE_E_KEK_INVALID', `${where} must hold 64 hex digits (a 256-bit key)`);
  return Buffer.from(hex, 'hex');
}

export function header(): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(h, 0);
  h.writeUInt32BE(FRAME_BYTES, MAGIC.length);
  return h;
}

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

const LAST = Buffer.from([1]);
const NOT_LAST = Buffer.from([0]);

export function sealFrame(dek: Buffer, index: number, plain: Uint8Array, last: boolean): Buffer {
  const cipher = createCipheriv('aes-256-gcm', dek, nonce(index));
  cipher.setAAD(last ? LAST : NOT_LAST);
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

export function openFrame(dek: Buffer, index: number, sealed: Uint8Array, last: boolean): Buffer {
  if (sealed.byteLength < TAG_BYTES) throw tampered(`frame ${index} is shorter than its tag`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', dek, nonce(index));
    decipher.setAAD(last ? LAST : NOT_LAST);
    decipher.setAuthTag(sealed.subarray(sealed.byteLength - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.byteLength - TAG_BYTES)), decipher.final()]);
  } catch (err) {
    throw tampered(`frame ${index} does not authenticate${last ? ' as the last frame (truncated or altered)' : ''}`, err);
  }
}

function tampered(message: string, cause?: unknown): SluiceError {
  return new SluiceError('SLUICE_E_ARTIFACT_TAMPERED', `encrypted artifact: ${message}`, cause === undefined ? {} : { cause });
}

/** Plaintext size of an encrypted file of `fileSize` bytes. */
export function plaintextSize(fileSize: number): number {
  const body = fileSize - HEADER_BYTES;
  if (body < TAG_BYTES) throw tampered('shorter than one frame');
  const frames = Math.ceil(body / (FRAME_BYTES + TAG_BYTES));
  return body - frames * TAG_BYTES;
}

/** Plaintext in, header and sealed frames out. Holds at most one frame. */
export class FrameSealer extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0;

  constructor(private readonly dek: Buffer) {
    super();
    this.push(header());
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    // Keep at least one byte back: the last frame is sealed as such in _flush.
    while (this.pendingBytes > FRAME_BYTES) {
      const all = Buffer.concat(this.pending);
      this.push(sealFrame(this.dek, this.index++, all.subarray(0, FRAME_BYTES), false));
      const rest = all.subarray(FRAME_BYTES);
      this.pending = [rest];
      this.pendingBytes = rest.byteLength;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.push(sealFrame(this.dek, this.index++, Buffer.concat(this.pending), true));
    done();
  }
}

/** Header and sealed frames in, plaintext out; a missing last frame is an error at the end. */
export class FrameOpener extends Transform {
  private buffered: Buffer = Buffer.alloc(0);
  private index = 0;
  private headerSeen = false;

  constructor(private readonly dek: Buffer) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.buffered = this.buffered.byteLength === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    try {
      if (!this.headerSeen) {
        if (this.buffered.byteLength < HEADER_BYTES) return done();
        checkHeader(this.buffered.subarray(0, HEADER_BYTES));
        this.buffered = this.buffered.subarray(HEADER_BYTES);
        this.headerSeen = true;
      }
      // A full frame followed by more bytes is not the last one.
      while (this.buffered.byteLength > FRAME_BYTES + TAG_BYTES) {
        this.push(openFrame(this.dek, this.index++, this.buffered.subarray(0, FRAME_BYTES + TAG_BYTES), false));
        this.buffered = this.buffered.subarray(FRAME_BYTES + TAG_BYTES);
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (!this.headerSeen) throw tampered('no header');
      this.push(openFrame(this.dek, this.index++, this.buffered, true));
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}

function checkHeader(h: Uint8Array): void {
  if (!Buffer.from(h.subarray(0, MAGIC.length)).equals(MAGIC) || Buffer.from(h).readUInt32BE(MAGIC.length) !== FRAME_BYTES) throw tampered('unknown header');
}

/** Random access to the plaintext of an encrypted file (one frame decrypted at a time). */
export function openEncryptedSource(path: string, dek: Buffer): ByteSource & { close(): void } {
  const fd = openSync(path, 'r');
  const fileSize = fstatSync(fd).size;
  const size = plaintextSize(fileSize);
  const frames = Math.max(1, Math.ceil(size / FRAME_BYTES) + (size % FRAME_BYTES === 0 && size > 0 ? 1 : 0));
  const head = Buffer.alloc(HEADER_BYTES);
  readSync(fd, head, 0, HEADER_BYTES, 0);
  checkHeader(head);
  let cached: { index: number; plain: Buffer } | undefined;
  const frame = (index: number): Buffer => {
    if (cached?.index === index) return cached.plain;
    const start = HEADER_BYTES + index * (FRAME_BYTES + TAG_BYTES);
    const length = Math.min(FRAME_BYTES + TAG_BYTES, fileSize - start);
    const sealed = Buffer.alloc(length);
    readSync(fd, sealed, 0, length, start);
    cached = { index, plain: openFrame(dek, index, sealed, index === frames - 1) };
    return cached.plain;
  };
  return {
    size,
    read(position, length) {
      const parts: Buffer[] = [];
      let at = position;
      const end = Math.min(size, position + length);
      while (at < end) {
        const index = Math.floor(at / FRAME_BYTES);
        const plain = frame(index);
        const from = at - index * FRAME_BYTES;
        const take = Math.min(plain.byteLength - from, end - at);
        parts.push(plain.subarray(from, from + take));
        at += take;
      }
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    },
    close: () => closeSync(fd),
  };
}

export function setOwnerOnly(file: string): void {
  chmodSync(file, 0o600);
}
