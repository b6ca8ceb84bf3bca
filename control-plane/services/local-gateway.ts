// The gateway token of `sluice serve`'s own gateway (and the runner token of its own runner). Its secret lives in a 0600 file in the data
// folder, so restarts reuse one token instead of minting a new one each time; the token itself is
// created like any other (audited, actor `system`).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { systemContext } from './actor.js';
import type { ControlPlaneServices } from './control-plane.js';
import { generateSecret } from './tokens.js';

export async function ensureLocalGatewayToken(services: ControlPlaneServices, file: string, role: 'gateway' | 'runner' = 'gateway'): Promise<string> {
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    const actor = await services.tokens.authenticate(secret);
    if (actor?.role === role) return secret;
  }
  const secret = generateSecret();
  await services.tokens.create(systemContext(`local-${role}`), { name: `local-${role}`, role }, secret);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
