// The answers of one model version that wait for feedback: a fixed ring of answers over a fixed
// ring of rows (the prediction of each row), allocated once, so recording an answer on the hot path
// writes into typed arrays and one Map entry. An answer leaves when its TTL has passed or when the
// rings are full (oldest first); its key then becomes a tombstone for one more TTL (bounded by the
// same capacity), so late feedback is told "expired" rather than "unknown".
//
// Two ways to name an answer: a key (the keyed hash of a caller's id, in a Map, its tombstone in the
// same Map), or, for ids the gateway makes, the answer's sequence number and a random check value:
// the sequence number is the slot (answers take slots in order), so that path needs no Map, no
// string kept and no tombstone (a sequence number below the oldest held is expired by definition).

/** find(): no answer under the key, and no tombstone either. */
export const UNKNOWN = -1;
/** find(): the answer was there and has expired (or was pushed out by newer ones). */
export const EXPIRED = -2;

export interface AnswerStoreOptions {
  /** Rows kept (an answer of N rows takes N). */
  capacity: number;
  ttlMs: number;
  /** Keep each row's slice index beside its prediction (config `slices`). */
  slices?: boolean;
}

export class AnswerStore {
  readonly capacity: number;
  readonly ttlMs: number;
  /** The prediction of each row (class index or value), a ring; an answer's rows are consecutive (wrapping). */
  readonly predictions: Float64Array;
  /** Each row's slice (gateway/feedback/slices.ts), in step with `predictions`; undefined when slices are off. */
  readonly slices: Uint8Array | undefined;
  readonly #keys: (string | undefined)[];
  readonly #at: Float64Array;
  readonly #rowStart: Uint32Array;
  readonly #rowCount: Uint32Array;
  readonly #given: Uint8Array;
  /** Per slot: the answer's sequence number and its 64-bit check (ids the gateway made). */
  readonly #seqOf: Float64Array;
  readonly #check: Int32Array;
  /** Answers recorded so far: the next answer's sequence number (its slot is seq % capacity). */
  #seq = 0;
  /** Oldest answer's slot and the number of answers; first row in use and rows in use. */
  #head = 0;
  #answers = 0;
  #rowHead = 0;
  #rows = 0;
  /** key → slot (≥ 0) of a held answer, or −1 − position of its tombstone. */
  readonly #index = new Map<string, number>();
  readonly #tombKeys: (string | undefined)[];
  readonly #tombAt: Float64Array;
  #tombHead = 0;
  #tombs = 0;

  constructor(options: AnswerStoreOptions) {
    const n = options.capacity;
    this.capacity = n;
    this.ttlMs = options.ttlMs;
    this.predictions = new Float64Array(n);
    this.slices = options.slices === true ? new Uint8Array(n) : undefined;
    this.#keys = new Array<string | undefined>(n);
    this.#at = new Float64Array(n);
    this.#rowStart = new Uint32Array(n);
    this.#rowCount = new Uint32Array(n);
    this.#given = new Uint8Array(n);
    this.#seqOf = new Float64Array(n);
    this.#check = new Int32Array(2 * n);
    this.#tombKeys = new Array<string | undefined>(n);
    this.#tombAt = new Float64Array(n);
  }

  /** Answers held (not expired away yet). */
  get size(): number {
    return this.#answers;
  }

  /** The sequence number of the answer recorded last. */
  get lastSeq(): number {
    return this.#seq - 1;
  }

  /** Keys held: the answers' and the tombstones' (what a test inspects to see no raw id is kept). */
  keys(): IterableIterator<string> {
    return this.#index.keys();
  }

  /**
   * Room for an answer of `rows` rows at `now`, under `key` (a caller's id, hashed), or — `key`
   * undefined — named by its sequence number (lastSeq) and the check `check0, check1`. Returns the
   * slot of its first row in `predictions` (the caller writes them), or -1 when it has more rows
   * than the whole store. A key already held moves to the new answer.
   */
  record(key: string | undefined, rows: number, now: number, check0 = 0, check1 = 0): number {
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
    this.#seqOf[slot] = this.#seq++;
    this.#check[2 * slot] = check0;
    this.#check[2 * slot + 1] = check1;
    if (key !== undefined) this.#index.set(key, slot);
    return rowStart;
  }

  /** The slot of the answer under `key`, or UNKNOWN / EXPIRED. */
  find(key: string, now: number): number {
    const slot = this.#index.get(key);
    if (slot === undefined) return UNKNOWN;
    if (slot < 0) return EXPIRED;
    return this.#at[slot]! + this.ttlMs > now ? slot : EXPIRED;
  }

  /** The slot of the answer with this sequence number and check, or UNKNOWN / EXPIRED. */
  findSeq(seq: number, check0: number, check1: number, now: number): number {
    if (!Number.isSafeInteger(seq) || seq < 0 || seq >= this.#seq) return UNKNOWN;
    if (seq < this.#seq - this.#answers) return EXPIRED;
    const slot = seq % this.capacity;
    if (this.#seqOf[slot] !== seq || this.#check[2 * slot] !== check0 || this.#check[2 * slot + 1] !== check1 || this.#keys[slot] !== undefined) return UNKNOWN;
    return this.#at[slot]! + this.ttlMs > now ? slot : EXPIRED;
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

  /** The oldest answer leaves; its key (if it has one) becomes a tombstone. */
  #evict(now: number): void {
    const slot = this.#head;
    const key = this.#keys[slot];
    if (key !== undefined) {
      this.#keys[slot] = undefined;
      // A key reused by a newer answer stays with it.
      if (this.#index.get(key) === slot) this.#bury(key, now);
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
    this.#index.set(key, -1 - at);
  }

  #dropTomb(): void {
    const at = this.#tombHead;
    const key = this.#tombKeys[at]!;
    this.#tombKeys[at] = undefined;
    if (this.#index.get(key) === -1 - at) this.#index.delete(key);
    this.#tombHead = (at + 1) % this.capacity;
    this.#tombs--;
  }
}
