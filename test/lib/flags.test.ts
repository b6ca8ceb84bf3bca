import t from 'tap';
import { defineCommand, helpText, parseFlags, type CommandSpec, type FlagTable, type FlagValues } from '../../lib/flags.js';

const spec = defineCommand({
  name: 'demo',
  summary: 'a demo',
  flags: {
    port: { type: 'int', default: 8000, description: 'port' },
    models: { type: 'string', default: './models', description: 'models' },
    verbose: { type: 'boolean', default: false, description: 'talk' },
    labels: { type: 'list', description: 'labels' },
    format: { type: 'string', default: 'json', choices: ['json', 'pretty'], description: 'format' },
    token: { type: 'string', description: 'token' },
  },
});

const needy = defineCommand({ name: 'needy', summary: 'needs a token', flags: { token: { type: 'string', required: true, description: 'token' } } });

function values<F extends FlagTable>(s: CommandSpec<F>, argv: string[], env: NodeJS.ProcessEnv = {}): FlagValues<F> {
  const parsed = parseFlags(s, argv, env);
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.values;
}

t.test('flags override SLUICE_* variables, which override defaults', async (t) => {
  t.same(values(spec, []), { port: 8000, models: './models', verbose: false, labels: undefined, format: 'json', token: undefined });
  t.equal(values(spec, [], { SLUICE_PORT: '9000' }).port, 9000);
  t.equal(values(spec, ['--port', '0'], { SLUICE_PORT: '9000' }).port, 0);
  t.equal(values(spec, ['--port=7']).port, 7);
  t.equal(values(spec, ['--verbose']).verbose, true);
  t.equal(values(spec, ['--verbose=false']).verbose, false);
  t.equal(values(spec, ['--no-verbose'], { SLUICE_VERBOSE: 'true' }).verbose, false);
  t.same(values(spec, ['--labels', 'a, b,,c']).labels, ['a', 'b', 'c']);
  t.equal(values(spec, ['--format', 'pretty']).format, 'pretty');
  t.equal(values(spec, ['--token=--starts-with-dashes']).token, '--starts-with-dashes', 'an inline value may look like a flag');
});

t.test('the values are typed by the table', async (t) => {
  const v = values(spec, ['--port', '1']);
  const port: number = v.port;
  const format: 'json' | 'pretty' = v.format;
  const token: string | undefined = v.token;
  const labels: string[] | undefined = v.labels;
  t.same([port, format, token, labels], [1, 'json', undefined, undefined]);
});

t.test('bad flags are refused with SLUICE_E_CONFIG_INVALID naming the flag', async (t) => {
  const bad = (argv: string[], flag: string, env: NodeJS.ProcessEnv = {}) =>
    t.throws(() => parseFlags(spec, argv, env), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag } }, argv.join(' ') || JSON.stringify(env));
  bad(['--port', 'eighty'], 'port');
  bad(['--port', '70000'], 'port');
  bad([], 'port', { SLUICE_PORT: 'x' });
  bad(['--nope'], 'nope');
  bad(['-x'], 'x');
  bad(['--models'], 'models');
  bad(['--token', '--port', '1'], 'token');
  bad(['stray'], '');
  bad(['--verbose=maybe'], 'verbose');
  bad(['--no-verbose=1'], 'verbose');
  bad(['--format', 'xml'], 'format');
  t.throws(() => parseFlags(needy, [], {}), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'token' } }, 'a required flag');
  t.throws(() => parseFlags(needy, ['--token', ''], {}), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'token' } }, 'a required flag left empty');
  t.equal(values(needy, [], { SLUICE_TOKEN: 'abc' }).token, 'abc', 'a required flag may come from its variable');
});

t.test('help lists every flag with its default, choices and variable', async (t) => {
  const text = helpText(spec);
  for (const f of ['--port <n>', '--models <value>', '--verbose', '--format <json|pretty>', 'SLUICE_PORT', '(default: 8000)', '--help']) t.match(text, f);
  t.match(helpText(needy), '(required)');
  t.same(parseFlags(spec, ['--port', '1', '--help'], {}), { help: true });
  t.same(parseFlags(needy, ['-h'], {}), { help: true }, 'help needs no required flag');
});
