// Recycled ArrayBuffers for the large, same-sized buffers every call of a tensor model allocates:
// request bodies (a 3x48x192 FP32 tensor is 110 KiB) and the batch buffers assembled from them,
// which the workers hand back after each run. Without it the main thread allocates ~2 such buffers
// per call and V8's external-memory pressure turns them into frequent full GCs (24% of the main
// thread's time on text-direction, bench/README.md "--profile").
//
// Buffers come back with stale bytes: takers overwrite what they use and never read past it.

/** Buffers below this size come cheaply from the allocator (and Node's own pool): not kept. */
const MIN_BYTES = 16 * 1024;

export class BufferPool {
  readonly #free = new Map<number, ArrayBuffer[]>();
  /** Buffers this pool handed out (so a stranger, e.g. Node's shared Buffer slab, is never kept). */
  readonly #owned = new WeakSet<ArrayBuffer>();
  /** Buffers idle in a free list now (so giving one back twice cannot hand it to two takers). */
  readonly #idle = new WeakSet<ArrayBuffer>();
  readonly #maxBytes: number;
  readonly #maxPerSize: number;
  #bytes = 0;

  /** `maxBytes`: most bytes kept idle in all; `maxPerSize`: most idle buffers of one size. */
  constructor(maxBytes = 64 * 1024 * 1024, maxPerSize = 256) {
    this.#maxBytes = maxBytes;
    this.#maxPerSize = maxPerSize;
  }

  /** Bytes held idle now. */
  get idleBytes(): number {
    return this.#bytes;
  }

  /** An ArrayBuffer of exactly `byteLength` bytes, recycled when one is idle (contents undefined). */
  take(byteLength: number): ArrayBuffer {
    if (byteLength >= MIN_BYTES) {
      const list = this.#free.get(byteLength);
      const buf = list?.pop();
      if (buf !== undefined) {
        this.#bytes -= byteLength;
        this.#idle.delete(buf);
        return buf;
      }
    }
    const buf = new ArrayBuffer(byteLength);
    this.#owned.add(buf);
    return buf;
  }

  /**
   * Give a buffer back. The caller must hold no view of it that is read or written afterwards.
   * Only buffers this pool handed out are kept, unless `adopt` (a buffer the caller owns alone,
   * e.g. one a worker transferred back). Detached (transferred away), small, surplus and already
   * idle buffers are left alone.
   */
  give(buf: ArrayBuffer, adopt = false): void {
    const n = buf.byteLength;
    if (n < MIN_BYTES || this.#bytes + n > this.#maxBytes || this.#idle.has(buf)) return;
    if (adopt) this.#owned.add(buf);
    else if (!this.#owned.has(buf)) return;
    let list = this.#free.get(n);
    if (list === undefined) {
      list = [];
      this.#free.set(n, list);
    }
    if (list.length >= this.#maxPerSize) return;
    list.push(buf);
    this.#idle.add(buf);
    this.#bytes += n;
  }
}

/** The gateway process's pool, shared by the HTTP body reader, batch assembly and the worker pool's returns. */
export const bufferPool = new BufferPool();
