// Micro-benchmark: the per-call object work on the answer path, before and after issue 20's "no
// spread, no closure per call" change, in ns of process CPU time (median of rounds, interleaved):
//   call literal   the HTTP route builds the InferenceRequest from the decoded body: a spread of
//                  the decoded object plus nine fields, against one fixed-shape literal (now)
//   select         the outputs of a weather answer (2 tensors): find() + object spread per output,
//                  against a loop + plain literal (now, gateway/inference/inference-service.ts)
//   cork           uWS cork() with a new closure per answer, against one shared function reading
//                  a module-level slot (now, gateway/server/http-io.ts); cork is a stand-in that
//                  calls its callback at once, as uWS does
//
//   node dist/bench/micro/inference/answer-path.js [--ms 300] [--rounds 5]
import { microOptions, nsPerOp } from '../cpu-timer.js';
import { median } from '../../report/summary.js';

const { ms: MS, rounds: ROUNDS } = microOptions();

interface T { name: string; datatype: string; shape: number[]; data: Float32Array | BigInt64Array }
const tensors: T[] = [
  { name: 'probabilities', datatype: 'FP32', shape: [1, 5], data: new Float32Array(5) },
  { name: 'label', datatype: 'INT64', shape: [1], data: new BigInt64Array(1) },
];
const signature = [{ name: 'probabilities' }, { name: 'label' }];
const decoded = { id: undefined as string | undefined, inputs: [tensors[0]!], outputs: undefined, binaryOutput: undefined, parameters: undefined };
let sink: unknown;
const SIGNAL = { aborted: false };

const candidates: Record<string, (i: number) => void> = {
  'call literal, spread (before)': (i) => {
    sink = { ...decoded, model: 'weather', version: undefined, routedVersion: false, signal: SIGNAL, receivedAt: i, routeKey: undefined, preview: false, trace: undefined };
  },
  'call literal, fixed shape (now)': (i) => {
    const d = decoded;
    sink = { model: 'weather', version: undefined, id: d.id, inputs: d.inputs, outputs: d.outputs, binaryOutput: d.binaryOutput, parameters: d.parameters, routedVersion: false, signal: SIGNAL, receivedAt: i, routeKey: undefined, preview: false, trace: undefined };
  },
  'select, find + spread (before)': () => {
    const out = [];
    for (const s of signature) {
      const t = tensors.find((x) => x.name === s.name);
      if (t) out.push({ ...t, binary: false });
    }
    sink = out;
  },
  'select, loop + literal (now)': () => {
    const out = [];
    for (const s of signature) {
      let t: T | undefined;
      for (const x of tensors) if (x.name === s.name) { t = x; break; }
      if (t !== undefined) out.push({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.data, binary: false });
    }
    sink = out;
  },
  'cork, closure per answer (before)': (i) => {
    const status = i;
    cork(() => write(status, 'application/json', '{}'));
  },
  'cork, shared function (now)': (i) => {
    slot.status = i;
    slot.type = 'application/json';
    slot.body = '{}';
    cork(writeSlot);
  },
};

function cork(cb: () => void): void {
  cb();
}
function write(status: number, type: string, body: string): void {
  sink = status + type.length + body.length;
}
const slot = { status: 0, type: '', body: '' };
function writeSlot(): void {
  write(slot.status, slot.type, slot.body);
}

const results = new Map<string, number[]>(Object.keys(candidates).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  const names = r % 2 === 0 ? Object.keys(candidates) : Object.keys(candidates).reverse();
  for (const name of names) results.get(name)!.push(nsPerOp(candidates[name]!, MS));
}
console.log('| answer-path step | ns per call (median of rounds) |');
console.log('|---|---|');
for (const [name, ns] of results) console.log(`| ${name} | ${median(ns).toFixed(1)} |`);
void sink;
