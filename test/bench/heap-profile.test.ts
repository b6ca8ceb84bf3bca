import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { selfBytes, type HeapProfileNode } from '../../bench/profile/heap-profile.js';
import { ROOT, sluiceNodeFlags } from '../../bench/targets/commands.js';

const node = (functionName: string, url: string, selfSize: number, children: HeapProfileNode[] = []): HeapProfileNode => ({
  callFrame: { functionName, url, lineNumber: 9, columnNumber: 0 }, selfSize, children,
});

t.test('functions are ranked by the bytes they allocated themselves, summed over every place they were called from', async (t) => {
  const profile = {
    head: node('(root)', '', 0, [
      node('handle', 'file:///work/main/dist/gateway/server/http-server.js', 100, [
        node('decode', 'file:///work/main/dist/gateway/server/oip-codec.js', 700),
        node('join', '', 50),
      ]),
      node('encode', 'file:///work/main/dist/gateway/server/oip-codec.js', 300, [node('decode', 'file:///work/main/dist/gateway/server/oip-codec.js', 200)]),
    ]),
  };
  const r = selfBytes(profile);
  t.equal(r.total, 1350);
  t.same(r.byFunction, [
    { fn: 'decode (gateway/server/oip-codec.js:10)', bytes: 900 },
    { fn: 'encode (gateway/server/oip-codec.js:10)', bytes: 300 },
    { fn: 'handle (gateway/server/http-server.js:10)', bytes: 100 },
    { fn: 'join', bytes: 50 },
  ]);
});

t.test('a call tree deeper than a JavaScript stack is read', async (t) => {
  let deep = node('leaf', '', 8);
  for (let i = 0; i < 200_000; i++) deep = node('f', '', 0, [deep]);
  t.same(selfBytes({ head: deep }), { total: 8, byFunction: [{ fn: 'leaf', bytes: 8 }] });
});

t.test('alloc-child: a real gateway under the sampling profiler reports what a weather call allocates', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, [
    ...sluiceNodeFlags(), join(ROOT, 'dist', 'bench', 'profile', 'alloc-child.js'), '--root', ROOT, '--workload', 'weather-json', '--rate', '400', '--duration-ms', '500',
  ], { timeout: 120_000 });
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { ok: number; sent: number; bytes: number; top: { fn: string; bytes: number }[] };
  t.equal(r.ok, r.sent, `${r.ok} of ${r.sent} calls answered`);
  t.ok(r.ok >= 150);
  // A weather call allocates kilobytes (request, decoded tensors, answer); far below a megabyte.
  t.ok(r.bytes / r.ok > 500 && r.bytes / r.ok < 1_000_000, `${Math.round(r.bytes / r.ok)} bytes per call`);
  t.ok(r.top.some((f) => f.fn.startsWith('decodeInferenceRequest (gateway/server/oip-codec.js')), 'the decoder is among the allocating functions');
});
