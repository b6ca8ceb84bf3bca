import t from 'tap';
import { topSelfTime, type CpuProfile } from '../../bench/profile/cpu-profile.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: '0' });

t.test('functions are ranked by self time, idle excluded from the percentages', async (t) => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 4] },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('parseJson', 'file:///work/main/dist/gateway/server/decode.js', 41) },
      { id: 4, callFrame: frame('run', 'file:///work/main/node_modules/onnxruntime-node/dist/backend.js', 9) },
    ],
    startTime: 0,
    endTime: 10_000,
    // Each sample lasts until the next delta: 3 → 3000 µs, 4 → 1000 µs, 2 → 5000 µs, 3 → 1000 µs.
    samples: [3, 4, 2, 3, 3],
    timeDeltas: [0, 3000, 1000, 5000, 1000],
  };
  const r = topSelfTime(profile);
  t.equal(r.idleMs, 5);
  t.equal(r.busyMs, 5);
  t.same(r.top.map((x) => [x.fn, x.selfMs, x.percent]), [
    ['parseJson (gateway/server/decode.js:42)', 4, 80],
    ['run (onnxruntime-node/dist/backend.js:10)', 1, 20],
  ]);
});

t.test("a piscina worker blocked in atomicsWaitLoop counts as waiting, not busy", async (t) => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('atomicsWaitLoop', 'file:///x/node_modules/piscina/dist/worker.js', 125) },
      { id: 2, callFrame: frame('run', 'file:///x/node_modules/onnxruntime-node/dist/backend.js', 114) },
    ],
    startTime: 0,
    endTime: 0,
    samples: [1, 2, 1],
    timeDeltas: [0, 3000, 1000],
  };
  const r = topSelfTime(profile);
  t.equal(r.idleMs, 3);
  t.equal(r.busyMs, 1);
  t.same(r.top.map((x) => x.fn), ['run (onnxruntime-node/dist/backend.js:115)']);
});

t.test('limit keeps only the top entries', async (t) => {
  const nodes = Array.from({ length: 5 }, (_, i) => ({ id: i + 1, callFrame: frame(`f${i}`) }));
  const profile: CpuProfile = { nodes, startTime: 0, endTime: 0, samples: [1, 2, 3, 4, 5, 5], timeDeltas: [0, 1, 1, 1, 1, 1] };
  t.equal(topSelfTime(profile, 2).top.length, 2);
});
