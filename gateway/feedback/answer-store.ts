// The answers of one model version that wait for feedback: a fixed ring of answers over a fixed
// ring of rows (the prediction of each row), allocated once, so recording an answer on the hot path
// writes into typed arrays and one Map entry. An answer leaves when its TTL has passed or when the
// rings are full (oldest first); its key then becomes a tombstone for one more TTL (bounded by the
// same capacity), so late feedback is told "expired" rather than "unknown".
//
// Keys are what GroundTruth gives: a keyed hash of a caller's id, or the gateway's own random id.

/** find(): no answer under the key, and no tombstone either. */
export const UNKNOWN = -1;
/** find(): the answer was there and has expired (or was pushed out by newer ones). */
export const EXPIRED = -2;

export interface AnswerStoreOptions {
  /** Rows kept (an answer of N rows takes N). */
  capacity: number;
  ttlMs: number;
}

export class AnswerStore {
  readonly capacity: number;
  readonly ttlMs: number;
  /** The prediction of each row (class index or value), a ring; an answer's rows are consecutive (wrapping). */
  readonly predictions: Float64Array;
  readonly #keys: (string | undefined)[];
  readonly #at: Float64Array;
  readonly #rowStart: Uint32Array;
  readonly #rowCount: Uint32Array;
  readonly #given: Uint8Array;
  /** Oldest answer's slot and the number of answers; first row in use and rows in use. */
  #head = 0;
  #answers = 0;
  #rowHead = 0;
  #rows = 0;
  readonly #index = new Map<string, number>();
  readonly #tombKeys: (string | undefined)[];
  readonly #tombAt: Float64Array;
  #tombHead = 0;
  #tombs = 0;
  readonly #tombIndex = new Set<string>();

  constructor(options: AnswerStoreOptions) {
    const n = options.capacity;
    this.capacity = n;
    this.ttlMs = options.ttlMs;
    this.predictions = new Float64Array(n);
    this.#keys = new Array<string | undefined>(n);
    this.#at = new Float64Array(n);
    this.#rowStart = new Uint32Array(n);
    this.#rowCount = new Uint32Array(n);
    this.#given = new Uint8Array(n);
    this.#tombKeys = new Array<string | undefined>(n);
    this.#tombAt = new Float64Array(n);
  }

  /** Answers held (not expired away yet). */
  get size(): number {
    return this.#answers;
  }

  /** Keys held: the answers' and the tombstones' (what a test inspects to see no raw id is kept). */
  *keys(): IterableIterator<string> {
    yield* this.#index.keys();
    yield* this.#tombIndex;
  }

  /**
   * Room for an answer of `rows` rows at `now`, under `key`; returns the slot of its first row in
   * `predictions` (the caller writes them), or -1 when it has more rows than the whole store.
   * A key already held moves to the new answer (the older one can no longer be reached).
   */
  record(key: string, rows: number, now: number): number {
    if (rows > this.capacity || rows === 0) return -1;
    this.#expire(now);
    while (this.#answers === this.capacity || this.#rows + rows > this.capacity) this.#evict(now);
    const slot = (this.#head + this.#answers) % this.capacity;
    const rowStart = (this.#rowHead + this.#rows) % this.capacity;
    this.#answers++;
    this.#rows += rows;
    this.#keys[slot] = key;
    this.#at[slot] = now;
    this.#rowStart[slot] = rowStart;
    this.#rowCount[slot] = rows;
    this.#given[slot] = 0;
    this.#index.set(key, slot);
    return rowStart;
  }

  /** The slot of the answer under `key`, or UNKNOWN / EXPIRED. */
  find(key: string, now: number): number {
    const slot = this.#index.get(key);
    if (slot !== undefined) return this.#at[slot]! + this.ttlMs > now ? slot : EXPIRED;
    if (this.#tombIndex.has(key)) return EXPIRED;
    return UNKNOWN;
  }

  rowsOf(slot: number): number {
    return this.#rowCount[slot]!;
  }

  /** Index in `predictions` of row `r` of the answer in `slot`. */
  rowAt(slot: number, r: number): number {
    return (this.#rowStart[slot]! + r) % this.capacity;
  }

  answeredAt(slot: number): number {
    return this.#at[slot]!;
  }

  given(slot: number): boolean {
    return this.#given[slot] === 1;
  }

  markGiven(slot: number): void {
    this.#given[slot] = 1;
  }

  /** Drop answers past their TTL from the old end (they are in time order), and stale tombstones. */
  #expire(now: number): void {
    while (this.#answers > 0 && this.#at[this.#head]! + this.ttlMs <= now) this.#evict(now);
    while (this.#tombs > 0 && this.#tombAt[this.#tombHead]! + this.ttlMs <= now) this.#dropTomb();
  }

  /** The oldest answer leaves; its key becomes a tombstone. */
  #evict(now: number): void {
    const slot = this.#head;
    const key = this.#keys[slot]!;
    this.#keys[slot] = undefined;
    // A key reused by a newer answer stays with it.
    if (this.#index.get(key) === slot) {
      this.#index.delete(key);
      this.#bury(key, now);
    }
    this.#rowHead = (this.#rowHead + this.#rowCount[slot]!) % this.capacity;
    this.#rows -= this.#rowCount[slot]!;
    this.#head = (slot + 1) % this.capacity;
    this.#answers--;
  }

  #bury(key: string, now: number): void {
    if (this.#tombs === this.capacity) this.#dropTomb();
    const at = (this.#tombHead + this.#tombs) % this.capacity;
    this.#tombKeys[at] = key;
    this.#tombAt[at] = now;
    this.#tombs++;
    this.#tombIndex.add(key);
  }

  #dropTomb(): void {
    const key = this.#tombKeys[this.#tombHead]!;
    this.#tombKeys[this.#tombHead] = undefined;
    this.#tombIndex.delete(key);
    this.#tombHead = (this.#tombHead + 1) % this.capacity;
    this.#tombs--;
  }
}
