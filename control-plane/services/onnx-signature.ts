// The input/output signature of an ONNX model, read from its protobuf (onnx-proto) rather than by
// opening an ONNX Runtime session: the control plane only needs names, types and shapes, and
// decoding the graph costs milliseconds where creating a session costs the model's whole load.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { SluiceError } from '../../lib/errors.js';

const { onnx } = onnxProto;

export interface TensorSpec {
  name: string;
  /** Open Inference Protocol datatype (FP32, INT64, ...). */
  datatype: string;
  /** -1 for a dynamic dimension. */
  shape: number[];
}

export interface TensorSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

// onnx.TensorProto.DataType → OIP datatype (KServe V2 "Tensor Data Types").
const DATATYPES: Record<number, string> = {
  1: 'FP32', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 8: 'BYTES',
  9: 'BOOL', 10: 'FP16', 11: 'FP64', 12: 'UINT32', 13: 'UINT64', 16: 'BF16',
};

type ValueInfo = onnxProto.onnx.IValueInfoProto;

function toSpec(v: ValueInfo): TensorSpec {
  const tensor = v.type?.tensorType;
  if (!tensor) throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', `graph value ${v.name} is not a tensor`, { details: { tensor: v.name } });
  const datatype = DATATYPES[tensor.elemType ?? 0];
  if (datatype === undefined) throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', `tensor ${v.name} has unsupported element type ${tensor.elemType}`, { details: { tensor: v.name } });
  const shape = (tensor.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : -1));
  return { name: v.name ?? '', datatype, shape };
}

/** Random access to an artifact's bytes: a buffer, or a file read a window at a time. */
export interface ByteSource {
  readonly size: number;
  /** `length` bytes from `position` (fewer only at the end). */
  read(position: number, length: number): Uint8Array;
}

export function readOnnxSignature(bytes: Uint8Array): TensorSignature {
  return readOnnxSignatureFrom({ size: bytes.byteLength, read: (position, length) => bytes.subarray(position, position + length) });
}

/** The signature of the ONNX file at `path`, reading only the graph's inputs and outputs from disk. */
export function readOnnxSignatureFromFile(path: string): TensorSignature {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    return readOnnxSignatureFrom({
      size,
      read(position, length) {
        const out = Buffer.allocUnsafe(Math.max(0, Math.min(length, size - position)));
        let done = 0;
        while (done < out.byteLength) {
          const n = readSync(fd, out, done, out.byteLength - done, position + done);
          if (n === 0) break;
          done += n;
        }
        return out.subarray(0, done);
      },
    });
  } finally {
    closeSync(fd);
  }
}

/**
 * Walk the protobuf wire format instead of decoding the whole ModelProto: the weights (initializer
 * data, often almost all of the file) are skipped by their length prefix, so a model of any size is
 * read in a few kilobytes of memory. Only ValueInfoProto messages (graph inputs and outputs) and
 * initializer names are decoded.
 */
export function readOnnxSignatureFrom(source: ByteSource): TensorSignature {
  let irVersion = 0;
  const inputs: ValueInfo[] = [];
  const outputs: ValueInfo[] = [];
  const initializers = new Set<string>();
  try {
    const reader = new WireReader(source);
    for (const model of reader.fields(0, source.size)) {
      if (model.field === 1 && model.wireType === 0) irVersion = model.value;
      if (model.field !== 7 || model.wireType !== 2) continue;
      for (const graph of reader.fields(model.value, model.end)) {
        if (graph.wireType !== 2) continue;
        if (graph.field === 11) inputs.push(onnx.ValueInfoProto.decode(reader.bytes(graph.value, graph.end)));
        else if (graph.field === 12) outputs.push(onnx.ValueInfoProto.decode(reader.bytes(graph.value, graph.end)));
        else if (graph.field === 5) {
          for (const tensor of reader.fields(graph.value, graph.end)) {
            if (tensor.field === 8 && tensor.wireType === 2) initializers.add(new TextDecoder().decode(reader.bytes(tensor.value, tensor.end)));
          }
        }
      }
    }
  } catch (err) {
    throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', 'artifact is not an ONNX model (protobuf decoding failed)', { cause: err });
  }
  if (!irVersion || outputs.length === 0) {
    throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', 'artifact is not an ONNX model (no graph outputs)');
  }
  // Before IR version 4, initializers were also listed as graph inputs; they are weights, not inputs.
  const graphInputs = inputs.filter((v) => !initializers.has(v.name ?? '')).map(toSpec);
  if (graphInputs.length === 0) throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', 'artifact is not an ONNX model (no graph inputs)');
  return { inputs: graphInputs, outputs: outputs.map(toSpec) };
}

interface WireField {
  field: number;
  wireType: number;
  /** varint: the value; length-delimited: where its bytes start. */
  value: number;
  /** where the field ends */
  end: number;
}

const WINDOW = 64 * 1024;

class WireReader {
  private windowStart = 0;
  private window: Uint8Array = new Uint8Array(0);

  constructor(private readonly source: ByteSource) {}

  *fields(start: number, end: number): Generator<WireField> {
    let pos = start;
    while (pos < end) {
      const [tag, afterTag] = this.varint(pos, end);
      const field = Math.floor(tag / 8);
      const wireType = tag % 8;
      if (field === 0) throw new Error(`field number 0 at byte ${pos}`);
      let value = 0;
      let next: number;
      if (wireType === 0) [value, next] = this.varint(afterTag, end);
      else if (wireType === 1) next = afterTag + 8;
      else if (wireType === 5) next = afterTag + 4;
      else if (wireType === 2) {
        const [length, afterLength] = this.varint(afterTag, end);
        value = afterLength;
        next = afterLength + length;
      } else throw new Error(`wire type ${wireType} at byte ${pos}`);
      if (next > end) throw new Error(`field ${field} runs past its message at byte ${pos}`);
      yield { field, wireType, value, end: next };
      pos = next;
    }
  }

  bytes(start: number, end: number): Uint8Array {
    if (end - start > this.source.size) throw new Error('field longer than the file');
    return this.source.read(start, end - start);
  }

  private byteAt(pos: number): number {
    if (pos < this.windowStart || pos >= this.windowStart + this.window.byteLength) {
      this.windowStart = pos;
      this.window = this.source.read(pos, WINDOW);
      if (this.window.byteLength === 0) throw new Error(`unexpected end of file at byte ${pos}`);
    }
    return this.window[pos - this.windowStart]!;
  }

  /** A varint (up to 2^53, enough for lengths and versions) and the position after it. */
  private varint(pos: number, end: number): [number, number] {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos + i >= end) throw new Error(`truncated varint at byte ${pos}`);
      const b = this.byteAt(pos + i);
      value += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) return [value, pos + i + 1];
    }
    throw new Error(`varint too long at byte ${pos}`);
  }
}
