// bench/gpu on a host where no CUDA provider loads (this one: onnxruntime-node ships no CUDA
// provider library and there is no GPU): it must stop at once, measure nothing, write no result
// file and say why. On a CUDA host the run itself is the check (minutes; not a unit test).
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { probeProvider } from '../../gateway/workers/provider-probe.js';
import { ROOT } from '../helpers/paths.js';

const cuda = await probeProvider('cuda');

t.test('bench/gpu exits 3 with ONNX Runtime\'s reason where no CUDA provider loads (this machine has none)', { skip: cuda.ok ? 'a CUDA provider loads here: run node dist/bench/gpu/run.js to measure' : false }, async (t) => {
  const out = join(t.testdir(), 'results');
  let code = 0;
  let stderr = '';
  try {
    await promisify(execFile)(process.execPath, [join(ROOT, 'dist', 'bench', 'gpu', 'run.js'), '--quick', '--out', out]);
  } catch (err) {
    ({ code, stderr } = err as { code: number; stderr: string });
  }
  t.equal(code, 3);
  t.match(stderr, /no CUDA provider loads here/);
  t.match(stderr, /ONNX Runtime: \S/);
  t.notOk(existsSync(out) && readdirSync(out).length > 0, 'no result file is written');
});
