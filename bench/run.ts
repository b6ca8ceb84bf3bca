// `npm run bench [-- --quick]`: runs the suite and writes bench/results/<date>.json, .md and .svg.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isSluiceError } from '../lib/errors.js';
import { helpText } from '../lib/flags.js';
import { BENCH_COMMAND, parseBenchArgs } from './options.js';
import { runSuite } from './suite.js';
import { resultStem, writeResults } from './report/files.js';
import { profileGateway } from './profile/profile-gateway.js';
import { ROOT } from './targets/commands.js';

async function main(argv: string[]): Promise<number> {
  let o;
  try {
    o = parseBenchArgs(argv);
  } catch (err) {
    if (isSluiceError(err) && err.code === 'SLUICE_E_CONFIG_INVALID') {
      process.stderr.write(`bench: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (o === 'help') {
    process.stdout.write(helpText(BENCH_COMMAND));
    return 0;
  }
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
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
