// Files that hold keys and secrets must be private to their owner: whoever can read a checkpoint
// key can forge checkpoints, whoever reads a token file is admin.
import { statSync } from 'node:fs';
import { SluiceError } from './errors.js';

/** Refuse `file` when group or others may read or write it; `what` names it in the error. */
export function assertPrivateFile(file: string, what: string): void {
  const mode = statSync(file).mode;
  if ((mode & 0o077) !== 0) {
    throw new SluiceError('SLUICE_E_SECRET_FILE_EXPOSED', `${what} ${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`, { details: { file } });
  }
}
