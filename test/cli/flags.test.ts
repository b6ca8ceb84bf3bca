import t from 'tap';
import { parseFlags, helpText, type CommandSpec } from '../../cli/flags.js';

const spec: CommandSpec = {
  name: 'demo',
  summary: 'a demo',
  flags: [
    { name: 'port', type: 'int', default: 8000, description: 'port' },
    { name: 'models', type: 'string', default: './models', description: 'models' },
    { name: 'verbose', type: 'boolean', default: false, description: 'talk' },
    { name: 'labels', type: 'list', description: 'labels' },
  ],
};

t.test('flags override SLUICE_* variables, which override defaults', async (t) => {
  t.same(parseFlags(spec, [], {}), { port: 8000, models: './models', verbose: false, labels: undefined });
  t.equal(parseFlags(spec, [], { SLUICE_PORT: '9000' }).port, 9000);
  t.equal(parseFlags(spec, ['--port', '0'], { SLUICE_PORT: '9000' }).port, 0);
  t.equal(parseFlags(spec, ['--port=7'], {}).port, 7);
  t.equal(parseFlags(spec, ['--verbose'], {}).verbose, true);
  t.equal(parseFlags(spec, ['--no-verbose'], { SLUICE_VERBOSE: 'true' }).verbose, false);
  t.same(parseFlags(spec, ['--labels', 'a, b,,c'], {}).labels, ['a', 'b', 'c']);
});

t.test('bad flags are refused with a message naming the flag', async (t) => {
  t.throws(() => parseFlags(spec, ['--port', 'eighty'], {}), { code: 'SLUICE_E_CONFIG_INVALID', message: /--port must be an integer/ });
  t.throws(() => parseFlags(spec, ['--port', '70000'], {}), { message: /port from 0 to 65535/ });
  t.throws(() => parseFlags(spec, [], { SLUICE_PORT: 'x' }), { message: /SLUICE_PORT must be an integer/ });
  t.throws(() => parseFlags(spec, ['--nope'], {}), { message: /unknown flag --nope/ });
  t.throws(() => parseFlags(spec, ['--models'], {}), { message: /--models needs a value/ });
  t.throws(() => parseFlags(spec, ['stray'], {}), { message: /unexpected argument "stray"/ });
  t.throws(() => parseFlags(spec, ['--verbose=maybe'], {}), { message: /true or false/ });
});

t.test('help lists every flag with its default and variable', async (t) => {
  const text = helpText(spec);
  for (const f of ['--port <n>', '--models <value>', '--verbose', 'SLUICE_PORT', '(default: 8000)', '--help']) t.match(text, f);
  t.equal(parseFlags(spec, ['--port', '1', '--help'], {}).help, true);
});
