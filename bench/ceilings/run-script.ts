// Runs a bench script in a process of its own (pinned with taskset when `cpus` is given) and takes
// its last line of output as its JSON result: how the full run calls the ceilings.
import { spawn } from 'node:child_process';

/** `what` names the run in the error when the script fails. */
export function runJsonScript<T>(args: string[], cpus: string | undefined, what: string): Promise<T> {
  const child = cpus === undefined ? spawn(process.execPath, args) : spawn('taskset', ['-c', cpus, process.execPath, ...args]);
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
      else reject(new Error(`${what} exited with ${code}: ${err.slice(-2000)}`));
    });
  });
}
