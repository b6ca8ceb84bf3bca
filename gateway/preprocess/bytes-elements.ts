// The two wire forms of a BYTES tensor holding encoded images. Binary extension (OIP / Triton):
// each element is a 4-byte little-endian length followed by that many bytes. JSON: each element
// is a base64 string, because raw bytes cannot travel in a JSON string.
import { SluiceError } from '../../lib/errors.js';

function badData(input: string, why: string): SluiceError {
  return new SluiceError('SLUICE_E_PROTOCOL_BAD_DATA', `input ${input}: ${why}`, { details: { input } });
}

/** Splits binary-extension BYTES data into its elements (views into `raw`, no copies). */
export function splitBytesElements(input: string, raw: Uint8Array): Uint8Array[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < raw.byteLength) {
    if (raw.byteLength - at < 4) throw badData(input, `BYTES element ${out.length} has a truncated 4-byte length prefix`);
    const len = view.getUint32(at, true);
    at += 4;
    if (len > raw.byteLength - at) throw badData(input, `BYTES element ${out.length} declares ${len} bytes but ${raw.byteLength - at} remain`);
    out.push(raw.subarray(at, at + len));
    at += len;
  }
  return out;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Decodes JSON BYTES elements (base64 strings; a `data:image/...;base64,` prefix is allowed). */
export function base64Elements(input: string, data: readonly unknown[]): Uint8Array[] {
  return data.map((el, i) => {
    if (typeof el !== 'string') throw badData(input, `element ${i} must be a base64 string of an encoded image`);
    const comma = el.startsWith('data:') ? el.indexOf(',') : -1;
    const b64 = comma >= 0 ? el.slice(comma + 1) : el;
    if (!BASE64.test(b64)) throw badData(input, `element ${i} is not valid base64`);
    return Buffer.from(b64, 'base64');
  });
}
