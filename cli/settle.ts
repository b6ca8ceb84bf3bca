// A command's promise that neither settles nor keeps the event loop alive (a socket a library lost
// without an error: undici 6.29 did this to a refused TLS 1.3 client) would let the process exit 0
// with no output, which a script reads as success. When the loop empties first, say so and exit 1.
import { SluiceError } from '../lib/errors.js';

export function exitLoudlyIfUnsettled(command: Promise<unknown>): void {
  let settled = false;
  const done = (): void => {
    settled = true;
  };
  command.then(done, done);
  process.on('beforeExit', () => {
    if (settled) return;
    const err = new SluiceError('SLUICE_E_CLI_UNSETTLED', 'the command stopped before it finished: nothing it waited on (a connection, a timer) was left alive, and it gave no answer');
    process.stderr.write(`sluice: ${err.message} (${err.code})\n`);
    process.exitCode = 1;
    settled = true;
  });
}
