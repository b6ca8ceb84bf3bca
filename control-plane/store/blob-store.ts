// Where artifact bytes live, behind one interface with two drivers: a folder (blob-fs.ts, the
// embedded default) and PostgreSQL (blob-pg.ts, for replicas that share only the database). A driver
// keeps *stored* bytes: the plaintext, or the encryption header and sealed frames with the data key
// wrapped by the KEK (services/artifact-crypto.ts). Hashing, encryption and staging stay above, in
// services/artifact-store.ts, so both drivers store the same bytes and neither sees a key.
import type { Readable } from 'node:stream';

export const ARTIFACT_STORE_KINDS = ['fs', 'postgres'] as const;
export type ArtifactStoreKind = (typeof ARTIFACT_STORE_KINDS)[number];

/** A wrapped data key as stored beside an encrypted artifact (JSON). */
export interface WrappedKey {
  /** Which KEK wrapped it (KekProvider.keyId). */
  kek: string;
  /** base64 of the provider's own format. */
  wrapped: string;
}

export interface BlobInfo {
  /** Plaintext bytes. */
  size: number;
  /** The data key the stored bytes are sealed under; undefined: stored as plaintext. */
  key: WrappedKey | undefined;
}

export interface BlobStore {
  readonly kind: ArtifactStoreKind;
  /** A folder on this machine for staging uploads (never shared; a staged file is this replica's). */
  readonly tmpDir: string;
  /**
   * Put the stored bytes of `file` (a staged artifact, removed by this call) under `sha256`, whole or
   * not at all. The same digest already stored in the same form (both encrypted, or both plaintext)
   * is kept: readers may be streaming it. Returns where it is kept (a path, or a table and digest).
   */
  place(sha256: string, file: string, size: number, key: WrappedKey | undefined): Promise<string>;
  /** Size and key of a stored blob; undefined when there is none. */
  info(sha256: string): Promise<BlobInfo | undefined>;
  /** The stored bytes, read as the consumer reads (backpressure); undefined when there is none. */
  read(sha256: string): Promise<Readable | undefined>;
  /** Replace the wrapped data key (a KEK rotation; the stored bytes do not change). */
  setKey(sha256: string, key: WrappedKey): Promise<void>;
  /** Every stored digest. */
  list(): AsyncIterable<string>;
}
