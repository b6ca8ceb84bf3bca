// One payload log entry: a sampled call and its answer as one JSON line, built off the hot path.
// Values of the fields the model's config declares personal (inputs by name, request parameters by
// name) are replaced by `hmac:` + the first 32 hex digits of HMAC-SHA256(key, value) before the line
// exists: the same value always gives the same pseudonym (joins with ground truth still work), and
// without the key no one can go back.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { PayloadLogConfig } from '../models/config.js';
import type { Tensor, TensorData } from '../models/tensors.js';
import type { InferenceResponse } from '../inference/inference-service.js';

/** What capture() keeps of a call: copies, so the request's buffers can move to the worker. */
export interface CapturedCall {
  at: number;
  model: string;
  version: string;
  id: string | undefined;
  config: PayloadLogConfig;
  parameters: Record<string, unknown> | undefined;
  inputs: Tensor[];
  outputs?: Tensor[];
  error?: string;
  ms?: number;
}

export function copyTensor(t: Tensor): Tensor {
  const data: TensorData = Array.isArray(t.data) ? t.data.map((b) => Uint8Array.from(b)) : t.data.slice();
  return { name: t.name, datatype: t.datatype, shape: [...t.shape], data };
}

/** Pseudonyms remembered (personal values such as customer ids repeat); the map starts over when full. */
const CACHE_LIMIT = 10_000;

export class Pseudonymizer {
  readonly #key: KeyObject;
  #cache = new Map<string, string>();

  constructor(key: Buffer) {
    this.#key = createSecretKey(key);
  }

  pseudonym(value: string): string {
    let p = this.#cache.get(value);
    if (p === undefined) {
      p = `hmac:${createHmac('sha256', this.#key).update(value).digest('hex').slice(0, 32)}`;
      if (this.#cache.size >= CACHE_LIMIT) this.#cache = new Map();
      this.#cache.set(value, p);
    }
    return p;
  }

  /** The JSON line of a finished call. */
  line(c: CapturedCall): string {
    const personal = new Set(c.config.personal);
    const entry: Record<string, unknown> = { at: new Date(c.at).toISOString(), model: c.model, version: c.version };
    if (c.id !== undefined) entry.id = personal.has('id') ? this.pseudonym(c.id) : c.id;
    if (c.parameters !== undefined) {
      const parameters: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(c.parameters)) parameters[k] = personal.has(k) ? this.pseudonym(typeof v === 'string' ? v : JSON.stringify(v)) : v;
      entry.parameters = parameters;
    }
    entry.inputs = c.inputs.map((t) => this.tensor(t, personal.has(t.name)));
    if (c.outputs !== undefined) entry.outputs = c.outputs.map((t) => this.tensor(t, personal.has(t.name)));
    if (c.error !== undefined) entry.error = c.error;
    if (c.ms !== undefined) entry.ms = Math.round(c.ms * 1000) / 1000;
    return JSON.stringify(entry);
  }

  private tensor(t: Tensor, personal: boolean): Record<string, unknown> {
    const values: (string | number | boolean)[] = [];
    if (Array.isArray(t.data)) {
      for (const b of t.data) values.push(Buffer.from(b).toString('utf8'));
    } else {
      const data = t.data as ArrayLike<number | bigint>;
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        values.push(typeof v === 'bigint' ? v.toString() : v);
      }
    }
    return { name: t.name, datatype: t.datatype, shape: t.shape, data: personal ? values.map((v) => this.pseudonym(String(v))) : values };
  }
}

/** The outputs of an answer, as the log keeps them. */
export function answeredOutputs(response: InferenceResponse): Tensor[] {
  return response.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, data: o.data }));
}
