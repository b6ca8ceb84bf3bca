// Bytes a call allocates on the gateway, two builds side by side (issue 20: allocation per call is
// what makes the young-generation collections whose pauses sit in the open-loop tail). Each round
// runs each build's gateway in a process of its own under V8's sampling heap profiler
// (alloc-child.ts), at the same open-loop rate, in alternating order; the report gives each one's
// median bytes per answered call, the ratio B / A, and the functions that allocate most in B.
//
//   git worktree add /tmp/base HEAD~1 && (cd /tmp/base && ln -s /work/main/node_modules . && npx tsc -p .)
//   node dist/bench/profile/alloc-per-call.js --a-root /tmp/base --workload weather-json --rounds 3
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, sluiceNodeFlags } from '../targets/commands.js';
import { median } from '../report/summary.js';
import type { SelfBytes } from './heap-profile.js';

const { values: args } = parseArgs({
  options: {
    'a-root': { type: 'string', default: ROOT },
    'b-root': { type: 'string', default: ROOT },
    workload: { type: 'string', default: 'weather-json' },
    rate: { type: 'string', default: '5000' },
    'duration-ms': { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '3' },
    top: { type: 'string', default: '15' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('node dist/bench/profile/alloc-per-call.js [--a-root DIR] [--b-root DIR] [--workload W] [--rate CALLS_PER_S] [--duration-ms N] [--rounds N] [--top N]');
  process.exit(0);
}
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${args.rounds}`);

interface Measured {
  ok: number;
  sent: number;
  bytes: number;
  top: SelfBytes[];
}

function measure(root: string): Promise<Measured> {
  const child = spawn(
    process.execPath,
    [...sluiceNodeFlags(root), join(ROOT, 'dist', 'bench', 'profile', 'alloc-child.js'), '--root', root, '--workload', args.workload!, '--rate', args.rate!, '--duration-ms', args['duration-ms']!],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1);
      if (code !== 0 || line === undefined || line === '') reject(new Error(`alloc-child for ${root} exited ${code}`));
      else resolve(JSON.parse(line) as Measured);
    });
  });
}

const variants = [
  { label: 'A', root: args['a-root']!, perCall: [] as number[], last: undefined as Measured | undefined },
  { label: 'B', root: args['b-root']!, perCall: [] as number[], last: undefined as Measured | undefined },
];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? variants : [...variants].reverse();
  const line: string[] = [];
  for (const v of order) {
    const m = await measure(v.root);
    v.last = m;
    v.perCall.push(m.bytes / m.ok);
    line.push(`${v.label} ${(m.bytes / m.ok).toFixed(0)} B/call (${m.ok}/${m.sent} ok)`);
  }
  console.log(`round ${r + 1}/${rounds}: ${line.join(', ')}`);
}
const [a, b] = variants as [(typeof variants)[0], (typeof variants)[0]];
console.log(`\n${args.workload} at ${args.rate} calls/s open loop, ${rounds} rounds of ${args['duration-ms']} ms, bytes allocated per answered call (sampled):`);
for (const v of variants) console.log(`${v.label} | ${median(v.perCall).toFixed(0)} | ${v.root}`);
console.log(`B / A: ${(median(b.perCall) / median(a.perCall)).toFixed(3)}`);
console.log(`\nB's last round, bytes per call by the function that allocated them:`);
for (const t of b.last!.top.slice(0, Number(args.top))) console.log(`${(t.bytes / b.last!.ok).toFixed(0).padStart(7)}  ${t.fn}`);
