// What the artifact benches share: feed an artifact in 64 KiB pieces, and time store + read back
// over N rounds (medians), each round a fresh blob so no dedupe shortcut is measured.
import type { ArtifactStore } from '../../../control-plane/services/artifact-store.js';

export const ROUNDS = 15;

export async function* pieces(bytes: Buffer): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median ms to store the artifact and to read it back whole. */
export async function measure(store: ArtifactStore, bytes: Buffer): Promise<{ put: number; read: number }> {
  const put: number[] = [];
  const read: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // A fresh last byte per round so each put stores a new blob.
    const copy = Buffer.concat([bytes, Buffer.from([i])]);
    let t0 = performance.now();
    const stored = await store.put(pieces(copy));
    put.push(performance.now() - t0);
    t0 = performance.now();
    for await (const _ of await store.open(stored.sha256));
    read.push(performance.now() - t0);
  }
  return { put: median(put), read: median(read) };
}
