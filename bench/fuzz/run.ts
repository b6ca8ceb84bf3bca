// The long fuzz run: `node dist/bench/fuzz/run.js --runs 100000` (after `npx tsc -p tsconfig.json`).
// Prints per surface the inputs run, the contract failures (with seed and index to reproduce), the
// share sent over the network to a real gateway / control plane, and the heap before and after.
// Exits 1 when any surface failed or its heap grew past --max-heap-growth-mib.
import { isSluiceError } from '../../lib/errors.js';
import { defineCommand, helpText, parseFlags } from '../../lib/flags.js';
import { controlPlaneSchema } from '../../control-plane/resolvers/index.js';
import { imageSeeds } from './images.js';
import { formatResult, runSurface, type SurfaceResult } from './runner.js';
import { graphqlSurface, imageSurface, oipBinarySurface, oipJsonSurface, wsFrameSurface, type Surface } from './surfaces.js';
import { startFuzzControlPlane, startFuzzGateway, textDirectionPlan } from './targets.js';

export const SURFACES = ['oip-json', 'oip-binary', 'ws-frame', 'image', 'graphql'] as const;

const FUZZ_COMMAND = defineCommand({
  name: 'fuzz',
  usage: 'node dist/bench/fuzz/run.js',
  summary: 'fuzz the gateway parsers, WebSocket frames, image inputs and GraphQL documents',
  envPrefix: 'SLUICE_FUZZ_',
  flags: {
    runs: { type: 'int', default: 100_000, placeholder: 'n', description: 'inputs per surface' },
    seed: { type: 'int', default: 20261204, placeholder: 'n', description: 'base seed (chunk i of 1000 inputs uses seed + i)' },
    surfaces: { type: 'list', default: [...SURFACES], description: `surfaces to run (${SURFACES.join(', ')})` },
    'network-every': { type: 'int', default: 50, placeholder: 'n', description: 'also send every n-th input over 127.0.0.1 (0: none)' },
    'max-heap-growth-mib': { type: 'int', default: 32, placeholder: 'MiB', description: 'heap growth (after GC) past which a surface fails' },
  },
});

async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags(FUZZ_COMMAND, argv);
  if (parsed.help) {
    process.stdout.write(helpText(FUZZ_COMMAND));
    return 0;
  }
  const o = parsed.values;
  for (const s of o.surfaces) if (!(SURFACES as readonly string[]).includes(s)) throw new Error(`unknown surface ${s} (${SURFACES.join(', ')})`);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(`fuzz: ${o.runs} inputs per surface, seed ${o.seed}, every ${o['network-every'] === 0 ? 'no' : `${o['network-every']}th`} input over the network`);
  const gateway = await startFuzzGateway();
  const controlPlane = o.surfaces.includes('graphql') ? await startFuzzControlPlane() : undefined;
  const results: SurfaceResult[] = [];
  try {
    const ws = wsFrameSurface(gateway.url);
    const all: Record<(typeof SURFACES)[number], () => Promise<Surface<unknown>>> = {
      'oip-json': async () => oipJsonSurface(gateway.url) as unknown as Surface<unknown>,
      'oip-binary': async () => oipBinarySurface(gateway.url) as unknown as Surface<unknown>,
      'ws-frame': async () => ws as unknown as Surface<unknown>,
      image: async () => imageSurface(textDirectionPlan(), await imageSeeds(), gateway.url) as unknown as Surface<unknown>,
      graphql: async () => graphqlSurface(controlPlaneSchema(), controlPlane!) as unknown as Surface<unknown>,
    };
    for (const name of SURFACES) {
      if (!o.surfaces.includes(name)) continue;
      const surface = await all[name]();
      const async = name === 'image' || name === 'graphql';
      const r = await runSurface(surface, { runs: o.runs, seed: o.seed, networkEvery: o['network-every'], concurrency: async ? 4 : 1 });
      results.push(r);
      log(formatResult(r));
    }
    ws.close();
  } finally {
    await controlPlane?.close();
    await gateway.close();
  }
  const limit = o['max-heap-growth-mib'] * 1024 * 1024;
  const grew = results.filter((r) => r.heapAfter - r.heapBefore > limit);
  for (const r of grew) log(`${r.surface}: heap grew by more than ${o['max-heap-growth-mib']} MiB`);
  const failed = results.reduce((n, r) => n + r.failures, 0);
  log(`total: ${results.reduce((n, r) => n + r.runs, 0)} inputs, ${failed} failures`);
  return failed > 0 || grew.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fuzz: ${isSluiceError(err) ? err.message : ((err as Error).stack ?? String(err))}\n`);
    process.exit(2);
  },
);
