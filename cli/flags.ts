// Flags for every subcommand: one table per command gives name, type, default, environment
// variable and help text; the same table parses argv, reads SLUICE_* variables and prints --help.
import { SluiceError } from '../lib/errors.js';

export type FlagType = 'string' | 'int' | 'boolean' | 'list';

export interface FlagSpec {
  name: string;
  type: FlagType;
  description: string;
  default?: string | number | boolean | string[];
  /** Environment variable; defaults to SLUICE_ + the flag name in upper snake case. */
  env?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  flags: FlagSpec[];
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

export function envName(flag: FlagSpec): string {
  return flag.env ?? `SLUICE_${flag.name.replace(/-/g, '_').toUpperCase()}`;
}

function convert(flag: FlagSpec, raw: string, source: string): string | number | boolean | string[] {
  switch (flag.type) {
    case 'int': {
      if (!/^-?[0-9]+$/.test(raw)) {
        throw new SluiceError('SLUICE_E_CONFIG_INVALID', `${source} must be an integer, got "${raw}"`, { details: { flag: flag.name } });
      }
      const n = Number(raw);
      if (flag.name.endsWith('port') && (n < 0 || n > 65535)) {
        throw new SluiceError('SLUICE_E_CONFIG_INVALID', `${source} must be a port from 0 to 65535, got ${n}`, { details: { flag: flag.name } });
      }
      return n;
    }
    case 'boolean':
      if (['1', 'true', 'yes', 'on', ''].includes(raw.toLowerCase())) return true;
      if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', `${source} must be true or false, got "${raw}"`, { details: { flag: flag.name } });
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    default:
      return raw;
  }
}

/** Parse argv for one command: flags override SLUICE_* environment variables, which override defaults. */
export function parseFlags(spec: CommandSpec, argv: string[], env: NodeJS.ProcessEnv = process.env): FlagValues & { help?: boolean } {
  const byName = new Map(spec.flags.map((f) => [f.name, f]));
  const values: FlagValues = {};
  for (const f of spec.flags) {
    const e = env[envName(f)];
    values[f.name] = e !== undefined ? convert(f, e, envName(f)) : f.default;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { ...values, help: true };
    if (!arg.startsWith('--')) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', `unexpected argument "${arg}" for sluice ${spec.name} (see --help)`);
    }
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let negated = false;
    if (!byName.has(name) && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'boolean') {
      name = name.slice(3);
      negated = true;
    }
    const flag = byName.get(name);
    if (!flag) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `unknown flag --${name} for sluice ${spec.name} (see --help)`);
    if (flag.type === 'boolean') {
      values[name] = negated ? false : eq === -1 ? true : convert(flag, arg.slice(eq + 1), `--${name}`);
      continue;
    }
    let raw: string | undefined;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else {
      raw = argv[i + 1];
      i++;
    }
    if (raw === undefined) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--${name} needs a value`);
    values[name] = convert(flag, raw, `--${name}`);
  }
  return values;
}

export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: sluice ${spec.name} [flags]`, '', spec.summary, '', 'Flags:'];
  const width = Math.max(...spec.flags.map((f) => f.name.length + (f.type === 'boolean' ? 0 : 8))) + 4;
  for (const f of spec.flags) {
    const left = `  --${f.name}${f.type === 'boolean' ? '' : ` <${f.type === 'int' ? 'n' : 'value'}>`}`;
    const def = f.default === undefined ? '' : ` (default: ${Array.isArray(f.default) ? f.default.join(',') : String(f.default)})`;
    lines.push(`${left.padEnd(width + 2)}${f.description}${def} [env ${envName(f)}]`);
  }
  lines.push(`  --help${' '.repeat(Math.max(1, width - 4))}show this help`);
  return `${lines.join('\n')}\n`;
}
