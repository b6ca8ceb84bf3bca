// What every entry point that takes the suite's flags (`npm run bench`, bench/gpu) does around its
// work: parse them (help → exit 0, a refused flag → exit 2 naming it), run, and turn a throw into
// exit 1 with its stack.
import { isSluiceError } from '../lib/errors.js';
import { helpText } from '../lib/flags.js';
import { BENCH_COMMAND, parseBenchArgs, type BenchOptions } from './options.js';

async function parsedThen(name: string, argv: string[], work: (o: BenchOptions) => Promise<number>): Promise<number> {
  let o;
  try {
    o = parseBenchArgs(argv);
  } catch (err) {
    if (isSluiceError(err) && err.code === 'SLUICE_E_CONFIG_INVALID') {
      process.stderr.write(`${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (o === 'help') {
    process.stdout.write(helpText(BENCH_COMMAND));
    return 0;
  }
  return work(o);
}

/** Run `work` with the options of this process's argv and set the exit code from what it answers. */
export function runBenchEntry(name: string, work: (o: BenchOptions) => Promise<number>): void {
  parsedThen(name, process.argv.slice(2), work).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
