// Flags for every command (the `sluice` CLI's, the bench's): one table per command gives each
// flag's type, default, environment variable and help text; the same table tokenizes argv
// (node:util parseArgs), reads SLUICE_* variables, prints --help and types the values the command
// receives (no casts downstream).
import { parseArgs } from 'node:util';
import { SluiceError } from './errors.js';

export type FlagType = 'string' | 'int' | 'boolean' | 'list';

/** The value a flag of each type parses to. */
export interface FlagTypeValue {
  string: string;
  int: number;
  boolean: boolean;
  list: string[];
}

export interface FlagSpec<T extends FlagType = FlagType> {
  readonly type: T;
  readonly description: string;
  readonly default?: T extends 'list' ? readonly string[] : FlagTypeValue[T];
  /** The only values a string flag accepts; its parsed type is their union. */
  readonly choices?: T extends 'string' ? readonly string[] : never;
  /** Refused when neither argv nor the environment gives it (and there is no default). */
  readonly required?: boolean;
  /** Environment variable; defaults to SLUICE_ + the flag name in upper snake case. */
  readonly env?: string;
  /** Shown in --help instead of `value` / `n` (e.g. `url`, `dir`). */
  readonly placeholder?: string;
}

/** A command's flags, keyed by name (`--name`); the order is the --help order. */
export type FlagTable = Readonly<Record<string, FlagSpec<'string'> | FlagSpec<'int'> | FlagSpec<'boolean'> | FlagSpec<'list'>>>;

export interface CommandSpec<F extends FlagTable = FlagTable> {
  readonly name: string;
  readonly summary: string;
  readonly flags: F;
  /** How it is run, for --help (default `sluice <name>`). */
  readonly usage?: string;
  /** Prefix of the flags' environment variables (default `SLUICE_`). */
  readonly envPrefix?: string;
}

/** What parsing a table gives: a flag with a default or `required` is always present. */
export type FlagValues<F extends FlagTable> = {
  -readonly [N in keyof F]: F[N] extends { default: unknown } | { required: true } ? FlagValue<F[N]> : FlagValue<F[N]> | undefined;
};

type FlagValue<S extends FlagSpec> = S extends { choices: readonly (infer C)[] } ? C : FlagTypeValue[S['type']];

/** Declare a command; `const` keeps the literal flag types so its values come out typed. */
export function defineCommand<const F extends FlagTable>(spec: CommandSpec<F>): CommandSpec<F> {
  return spec;
}

export function envName(name: string, flag: FlagSpec, prefix = 'SLUICE_'): string {
  return flag.env ?? `${prefix}${name.replace(/-/g, '_').toUpperCase()}`;
}

function invalid(name: string, message: string): SluiceError {
  return new SluiceError('SLUICE_E_CONFIG_INVALID', message, { details: { flag: name } });
}

function convert(name: string, flag: FlagSpec, raw: string, source: string): string | number | boolean | string[] {
  switch (flag.type) {
    case 'int': {
      if (!/^-?[0-9]+$/.test(raw)) throw invalid(name, `${source} must be an integer, got "${raw}"`);
      const n = Number(raw);
      if (name.endsWith('port') && (n < 0 || n > 65535)) throw invalid(name, `${source} must be a port from 0 to 65535, got ${n}`);
      return n;
    }
    case 'boolean':
      if (['1', 'true', 'yes', 'on', ''].includes(raw.toLowerCase())) return true;
      if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
      throw invalid(name, `${source} must be true or false, got "${raw}"`);
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    default:
      if (flag.choices && !flag.choices.includes(raw)) throw invalid(name, `${source} must be one of ${flag.choices.join(', ')}, got "${raw}"`);
      return raw;
  }
}

export type ParsedFlags<F extends FlagTable> = { help: true } | { help: false; values: FlagValues<F> };

/**
 * Parse argv for one command: flags override SLUICE_* environment variables, which override
 * defaults. `--help`/`-h` anywhere asks for help; `--no-<flag>` turns a boolean off.
 */
export function parseFlags<F extends FlagTable>(spec: CommandSpec<F>, argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedFlags<F> {
  const table: Readonly<Record<string, FlagSpec>> = spec.flags;
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, flag] of Object.entries(table)) options[name] = { type: flag.type === 'boolean' ? 'boolean' : 'string' };
  // Non-strict: parseArgs only tokenizes, and every refusal below names the flag in SluiceError terms.
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  if (tokens.some((tok) => tok.kind === 'option' && tok.name === 'help')) return { help: true };

  const values: Record<string, string | number | boolean | string[] | undefined> = {};
  for (const [name, flag] of Object.entries(table)) {
    const variable = envName(name, flag, spec.envPrefix);
    const e = env[variable];
    const d = flag.default;
    values[name] = e !== undefined ? convert(name, flag, e, variable) : typeof d === 'object' ? [...d] : d;
  }
  for (const tok of tokens) {
    if (tok.kind === 'positional') throw invalid('', `unexpected argument "${tok.value}" for sluice ${spec.name} (see --help)`);
    if (tok.kind !== 'option') continue;
    const negated = !Object.hasOwn(table, tok.name) && tok.name.startsWith('no-') && table[tok.name.slice(3)]?.type === 'boolean';
    const name = negated ? tok.name.slice(3) : tok.name;
    const flag = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!flag || tok.rawName.length === 2) throw invalid(name, `unknown flag ${tok.rawName} for sluice ${spec.name} (see --help)`);
    if (flag.type === 'boolean') {
      if (negated && tok.value !== undefined) throw invalid(name, `${tok.rawName} takes no value`);
      values[name] = negated ? false : tok.value === undefined ? true : convert(name, flag, tok.value, `--${name}`);
      continue;
    }
    // A value taken from the next argument must not itself be a flag (`--token --model x`).
    if (tok.value === undefined || (!tok.inlineValue && tok.value.startsWith('--'))) throw invalid(name, `--${name} needs a value`);
    values[name] = convert(name, flag, tok.value, `--${name}`);
  }
  for (const [name, flag] of Object.entries(table)) {
    if (flag.required && (values[name] === undefined || values[name] === '')) {
      throw invalid(name, `--${name} is required (or ${envName(name, flag, spec.envPrefix)})`);
    }
  }
  return { help: false, values: values as FlagValues<F> };
}

export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage ?? `sluice ${spec.name}`} [flags]`, '', spec.summary, '', 'Flags:'];
  const lefts = Object.entries(spec.flags).map(([name, f]) => {
    const arg = f.type === 'boolean' ? '' : ` <${f.placeholder ?? f.choices?.join('|') ?? (f.type === 'int' ? 'n' : f.type === 'list' ? 'a,b,...' : 'value')}>`;
    return [`  --${name}${arg}`, name, f] as const;
  });
  const width = Math.max(8, ...lefts.map(([left]) => left.length)) + 2;
  for (const [left, name, f] of lefts) {
    const def = f.default === undefined ? (f.required ? ' (required)' : '') : ` (default: ${Array.isArray(f.default) ? f.default.join(',') : String(f.default)})`;
    lines.push(`${left.padEnd(width)}${f.description}${def} [env ${envName(name, f, spec.envPrefix)}]`);
  }
  lines.push(`${'  --help'.padEnd(width)}show this help`);
  return `${lines.join('\n')}\n`;
}
