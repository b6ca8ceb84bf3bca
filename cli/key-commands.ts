// `sluice keys ...`: the registry signing key. `show-signing` prints the current public key (the
// PEM a gateway pins with --registry-key); `rotate-signing` asks the control plane for a new key
// chained from the current one (admins; audited as registry_key.rotate) and prints it.
import { writeFileSync } from 'node:fs';
import { defineCommand, type CommandSpec, type FlagTable, type FlagValues } from '../lib/flags.js';
import { tokenFlag, ADMIN_CLIENT_FLAGS } from './common-flags.js';
import { baseUrl, graphql } from './control-plane-commands.js';

type Register<C> = <F extends FlagTable>(spec: CommandSpec<F>, run: (values: FlagValues<F>) => Promise<number>) => C;

const OUT_FLAG = { type: 'string', placeholder: 'file', description: 'also write the public key (PEM) to this file, for gateways\' --registry-key' } as const;

export const KEYS_SHOW_COMMAND = defineCommand({
  name: 'keys show-signing',
  summary: 'Print the registry\'s current signing key (id and public key PEM).',
  flags: { ...ADMIN_CLIENT_FLAGS, out: OUT_FLAG },
});

export const KEYS_ROTATE_COMMAND = defineCommand({
  name: 'keys rotate-signing',
  summary: 'Replace the registry signing key by a new one that the old key vouches for; gateways re-pin through the chain (docs/registry-key.md).',
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: tokenFlag('admin token'),
    'overlap-seconds': { type: 'int', default: 7 * 86_400, description: 'how long gateways still accept versions signed by the old key' },
    out: OUT_FLAG,
  },
});

async function runShow(v: FlagValues<typeof KEYS_SHOW_COMMAND.flags>): Promise<number> {
  const data = await graphql(baseUrl(v['control-plane']), v.token, '{ registryPublicKey { keyId publicKeyPem } }', {});
  const key = data.registryPublicKey as { keyId: string; publicKeyPem: string };
  if (v.out !== undefined) writeFileSync(v.out, key.publicKeyPem);
  process.stdout.write(`key ${key.keyId}\n${key.publicKeyPem}`);
  return 0;
}

async function runRotate(v: FlagValues<typeof KEYS_ROTATE_COMMAND.flags>): Promise<number> {
  const data = await graphql(
    baseUrl(v['control-plane']),
    v.token,
    'mutation($o: Int) { rotateSigningKey(overlapSeconds: $o) { previousKeyId keyId publicKeyPem overlapUntil resignedVersions } }',
    { o: v['overlap-seconds'] },
  );
  const r = data.rotateSigningKey as { previousKeyId: string; keyId: string; publicKeyPem: string; overlapUntil: string; resignedVersions: number };
  if (v.out !== undefined) writeFileSync(v.out, r.publicKeyPem);
  process.stdout.write(`rotated ${r.previousKeyId} -> ${r.keyId}; ${r.resignedVersions} versions signed again; the old key is accepted until ${r.overlapUntil}\n${r.publicKeyPem}`);
  return 0;
}

export function keyCommands<C>(command: Register<C>): C[] {
  return [command(KEYS_SHOW_COMMAND, (v) => runShow(v)), command(KEYS_ROTATE_COMMAND, (v) => runRotate(v))];
}
