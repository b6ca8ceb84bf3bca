// Anchors the audit chain outside the database. The chain alone proves only that the rows agree
// with each other: whoever can write the database can delete the newest events and move the head
// back, or recompute every hash after an edit, and the chain still verifies. So the leader
// periodically signs a checkpoint (sequence, head hash, time) with a key that lives in a file, not in
// the database, and appends it as one JSON line to a file opened O_APPEND (the operator ships that
// file elsewhere). Verifying then checks the database against every checkpoint: each checkpointed
// event must still be there with the same hash, and since each hash commits to all events before it,
// a chain that verifies and matches the checkpoints has lost or changed nothing up to the newest one.
// Signatures are JWS (EdDSA, Ed25519) compact serializations, checkable with any JOSE library.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import { CompactSign, compactVerify } from 'jose';
import { SluiceError } from '../../lib/errors.js';
import { assertPrivateFile } from '../../lib/private-file.js';
import type { Store } from '../store/db.js';

export interface Checkpoint {
  seq: number;
  hash: string;
  at: string;
  keyId: string;
}

export type CheckpointBreakReason = 'bad-signature' | 'event-missing' | 'hash-mismatch' | 'out-of-order';

/** The first checkpoint the database disagrees with (or that is itself not genuine). */
export interface CheckpointBreak {
  /** 1-based line of the checkpoint file. */
  line: number;
  seq: number;
  at: string;
  reason: CheckpointBreakReason;
}

export interface CheckpointCheck {
  checkpoints: number;
  firstBadCheckpoint: CheckpointBreak | null;
}

/** The checkpoint signing key: an Ed25519 PKCS#8 PEM file, created 0600 at first start. */
export class CheckpointKey {
  readonly keyId: string;
  readonly publicKey: KeyObject;

  private constructor(private readonly privateKey: KeyObject) {
    this.publicKey = createPublicKey(privateKey);
    this.keyId = createHash('sha256').update(this.publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
  }

  static loadOrCreate(file: string): CheckpointKey {
    if (!existsSync(file)) {
      const { privateKey } = generateKeyPairSync('ed25519');
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        writeSync(fd, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      } finally {
        closeSync(fd);
      }
      return new CheckpointKey(privateKey);
    }
    return CheckpointKey.load(file);
  }

  static load(file: string): CheckpointKey {
    if (!existsSync(file)) throw new SluiceError('SLUICE_E_CONFIG_FILE_MISSING', `audit checkpoint key ${file} does not exist`, { details: { file } });
    assertPrivateFile(file, 'audit checkpoint key');
    try {
      const key = createPrivateKey(readFileSync(file));
      if (key.asymmetricKeyType !== 'ed25519') throw new Error(`key type ${key.asymmetricKeyType}`);
      return new CheckpointKey(key);
    } catch (err) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', `audit checkpoint key ${file} is not an Ed25519 private key`, { cause: err, details: { file } });
    }
  }

  sign(checkpoint: Checkpoint): Promise<string> {
    return new CompactSign(Buffer.from(JSON.stringify(checkpoint))).setProtectedHeader({ alg: 'EdDSA', kid: this.keyId, typ: 'sluice-audit-checkpoint' }).sign(this.privateKey);
  }
}

/** The append-only checkpoint file: one JSON line per checkpoint, `{seq, hash, at, keyId, jws}`. */
export class CheckpointFile {
  constructor(readonly path: string) {}

  /** Append one line with a single write on an O_APPEND descriptor, so lines never interleave or overwrite. */
  append(checkpoint: Checkpoint, jws: string): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      const fd = openSync(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
      try {
        writeSync(fd, `${JSON.stringify({ ...checkpoint, jws })}\n`);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw new SluiceError('SLUICE_E_AUDIT_CHECKPOINT_FILE', `cannot append to the audit checkpoint file ${this.path}`, { cause: err, details: { file: this.path } });
    }
  }

  /** Every line as written (an absent file has none). */
  lines(): { line: number; text: string }[] {
    if (!existsSync(this.path)) return [];
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      throw new SluiceError('SLUICE_E_AUDIT_CHECKPOINT_FILE', `cannot read the audit checkpoint file ${this.path}`, { cause: err, details: { file: this.path } });
    }
    return text
      .split('\n')
      .map((t, i) => ({ line: i + 1, text: t }))
      .filter((l) => l.text.trim() !== '');
  }

  /** The newest checkpoint's sequence number (0 when none): where a restarted leader carries on. */
  lastSeq(): number {
    const last = this.lines().at(-1);
    if (last === undefined) return 0;
    try {
      return Number((JSON.parse(last.text) as { seq?: unknown }).seq) || 0;
    } catch {
      return 0;
    }
  }
}

/** The checkpoint a line carries, read from its signed payload only; undefined unless the signature verifies. */
async function signedCheckpoint(text: string, publicKey: KeyObject): Promise<Checkpoint | undefined> {
  try {
    const line = JSON.parse(text) as { jws?: unknown };
    if (typeof line.jws !== 'string') return undefined;
    const { payload } = await compactVerify(line.jws, publicKey);
    const cp = JSON.parse(Buffer.from(payload).toString('utf8')) as Checkpoint;
    return Number.isSafeInteger(cp.seq) && typeof cp.hash === 'string' ? cp : undefined;
  } catch {
    return undefined;
  }
}

/** Writes checkpoints of the current chain head. */
export class AuditAnchor {
  #lastSeq: number;

  constructor(
    private readonly store: Store,
    readonly key: CheckpointKey,
    readonly file: CheckpointFile,
  ) {
    this.#lastSeq = file.lastSeq();
  }

  /** Events appended since the last checkpoint. */
  async pending(): Promise<number> {
    return Math.max(0, (await this.head()).seq - this.#lastSeq);
  }

  /** Sign and append a checkpoint of the head, unless the head has not moved since the last one; returns it. */
  async checkpoint(at: Date = new Date()): Promise<Checkpoint | undefined> {
    const head = await this.head();
    if (head.seq === this.#lastSeq) return undefined;
    const checkpoint: Checkpoint = { seq: head.seq, hash: head.hash, at: at.toISOString(), keyId: this.key.keyId };
    this.file.append(checkpoint, await this.key.sign(checkpoint));
    this.#lastSeq = head.seq;
    return checkpoint;
  }

  private async head(): Promise<{ seq: number; hash: string }> {
    const h = await this.store.db.selectFrom('audit_chain_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
    return { seq: Number(h.seq), hash: h.hash };
  }
}

/**
 * Check the database against every checkpoint in the file, oldest first, and name the first that
 * disagrees: a line whose signature does not verify under `publicKey`, a checkpointed event that is
 * gone (truncation), or one whose hash changed (a rewritten chain).
 */
export async function checkCheckpoints(store: Store, file: CheckpointFile, publicKey: KeyObject): Promise<CheckpointCheck> {
  const lines = file.lines();
  let previous = 0;
  for (const { line, text } of lines) {
    const cp = await signedCheckpoint(text, publicKey);
    if (cp === undefined) {
      const seq = Number((safeParse(text) as { seq?: unknown } | undefined)?.seq) || 0;
      return { checkpoints: lines.length, firstBadCheckpoint: { line, seq, at: String((safeParse(text) as { at?: unknown } | undefined)?.at ?? ''), reason: 'bad-signature' } };
    }
    const bad = (reason: CheckpointBreakReason) => ({ checkpoints: lines.length, firstBadCheckpoint: { line, seq: cp.seq, at: cp.at, reason } });
    if (cp.seq < previous) return bad('out-of-order');
    previous = cp.seq;
    const row = await store.db.selectFrom('audit_events').select('hash').where('seq', '=', cp.seq).executeTakeFirst();
    if (row === undefined) return bad('event-missing');
    if (row.hash !== cp.hash) return bad('hash-mismatch');
  }
  return { checkpoints: lines.length, firstBadCheckpoint: null };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
