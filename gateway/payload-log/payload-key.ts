// The HMAC key of the payload log: 32 random bytes in a file only its owner may read. Created at
// first start (mode 0600); an existing file readable by group or others, or shorter than 32 bytes,
// is refused, since whoever holds the key can test guesses of a personal value against the log.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SluiceError } from '../../lib/errors.js';

export const KEY_BYTES = 32;

export function loadPayloadKey(file: string): Buffer {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const key = randomBytes(KEY_BYTES);
    writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    return key;
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new SluiceError('SLUICE_E_PAYLOAD_LOG_KEY', `payload log key ${file} has mode ${mode.toString(8)}: it must be readable by its owner only (chmod 600)`, { details: { file } });
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length < KEY_BYTES) throw new SluiceError('SLUICE_E_PAYLOAD_LOG_KEY', `payload log key ${file} holds ${key.length} bytes; it needs ${KEY_BYTES} (base64)`, { details: { file } });
  return key;
}
