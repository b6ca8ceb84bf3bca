// `npm run bench [-- --quick]`: runs the suite and writes bench/results/<date>.json, .md and .svg.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runBenchEntry } from './entry.js';
import { runSuite } from './suite.js';
import { resultStem, writeResults } from './report/files.js';
import { profileGateway } from './profile/profile-gateway.js';
import { ROOT } from './targets/commands.js';

runBenchEntry('bench', async (o) => {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const outDir = resolve(ROOT, o.outDir);
  mkdirSync(outDir, { recursive: true });
  const stem = resultStem(new Date(), o.quick);
  const run = await runSuite(o, log);
  if (o.profile) run.notes.push(...(await profileGateway(o, join(ROOT, '.sluice', 'bench', 'profiles', stem), log)));
  const md = writeResults(outDir, stem, run);
  log(`\n${md}`);
  log(`results: ${join(o.outDir, stem)}.{json,md,svg}`);
  return 0;
});
