// The admin client flags every command that calls a running control plane shares: each such
// command takes all of them, so none can be pointed at an https control plane without its CA or
// client certificate, and a command's own token description keeps the flag required.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_CLIENT_FLAGS } from '../../cli/common-flags.js';
import { parseFlags, type CommandSpec } from '../../lib/flags.js';

const CLI_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../cli');

/** Every command spec exported by cli/*-commands.js that takes --control-plane and --token. */
async function adminCommands(): Promise<CommandSpec[]> {
  const specs: CommandSpec[] = [];
  for (const file of readdirSync(CLI_DIR).filter((f) => f.endsWith('-commands.js')).sort()) {
    const module = (await import(join(CLI_DIR, file))) as Record<string, unknown>;
    for (const value of Object.values(module)) {
      const spec = value as Partial<CommandSpec> | null;
      if (typeof spec?.name === 'string' && typeof spec.flags === 'object' && 'control-plane' in spec.flags && 'token' in spec.flags) specs.push(spec as CommandSpec);
    }
  }
  return specs;
}

t.test('every command that calls the control plane takes the whole admin client block', async (t) => {
  const commands = await adminCommands();
  t.ok(commands.length >= 30, `found ${commands.length} commands`);
  for (const spec of commands) {
    for (const flag of Object.keys(ADMIN_CLIENT_FLAGS)) t.ok(flag in spec.flags, `sluice ${spec.name} takes --${flag}`);
    t.equal(spec.flags.token?.required, true, `sluice ${spec.name} requires --token`);
  }
});

t.test('the block parses to the TLS files, the token and the defaults', async (t) => {
  const parsed = parseFlags({ name: 'x', summary: 'x', flags: ADMIN_CLIENT_FLAGS }, ['--token', 'tok', '--control-plane-ca', 'ca.pem', '--tls-client-cert', 'c.pem', '--tls-client-key', 'k.pem'], {});
  if (parsed.help) throw new Error('unexpected --help');
  t.same(parsed.values, { 'control-plane': 'http://127.0.0.1:8080', 'control-plane-ca': 'ca.pem', 'tls-client-cert': 'c.pem', 'tls-client-key': 'k.pem', token: 'tok', 'log-level': 'info' });
});
