import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI } from './paths.js';

const execFileAsync = promisify(execFile);

/** Run `sluice <args>` to its end: its exit code and output, whatever the code. */
export async function runSluice(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export interface SluiceProcess {
  proc: ChildProcess;
  /** Every URL printed in a `listening on` line, in order. */
  urls: string[];
  output: () => string;
  /** Send a signal and resolve with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * Start `sluice <args>` and resolve once it has printed `listening on` `expectListening` times.
 * Rejects with the process output if it exits first or takes longer than `timeoutMs`.
 */
export function startSluice(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; expectListening?: number; timeoutMs?: number; cwd?: string } = {},
): Promise<SluiceProcess> {
  const expect = options.expectListening ?? 1;
  const proc = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const urls: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`sluice ${args.join(' ')} did not start in time:\n${out}`));
    }, options.timeoutMs ?? 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      for (const m of chunk.toString().matchAll(/listening on (https?:\/\/127\.0\.0\.1:\d+)/g)) urls.push(m[1]!);
      if (urls.length >= expect) {
        clearTimeout(timer);
        resolve({
          proc,
          urls,
          output: () => out,
          exited,
          stop: (signal = 'SIGTERM') => {
            proc.kill(signal);
            return exited;
          },
        });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      if (urls.length < expect) reject(new Error(`sluice ${args.join(' ')} exited with ${code} before listening:\n${out}`));
    });
  });
}
