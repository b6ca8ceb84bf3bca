import t from 'tap';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../lib/log.js';
import { AUDIT_EXPORT_COMMAND, SET_ALIAS_COMMAND, TOKEN_CREATE_COMMAND, UPLOAD_COMMAND, exportAuditLog, runAuditExport, runSetAlias, runTokenCreate, runUpload } from '../../cli/control-plane-commands.js';
import { parseFlags, type CommandSpec, type FlagTable, type FlagValues } from '../../lib/flags.js';
import { exampleModels } from '../helpers/paths.js';
import { ADMIN_TOKEN, dialects, exampleOnnx, startTestControlPlane, stopPostgres } from '../control-plane/harness.js';

t.teardown(stopPostgres);

const silent = createLogger('test', 'silent');

/** The values a command receives for `argv` (no environment). */
function flags<F extends FlagTable>(spec: CommandSpec<F>, argv: string[]): FlagValues<F> {
  const parsed = parseFlags(spec, argv, {});
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.values;
}

function collect(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  return { out, text: () => text };
}

for (const dialect of dialects()) {
  t.test(`CLI commands on ${dialect}`, async (t) => {
    t.test('upload registers a version from a local file, creating the model and moving an alias', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const { out, text } = collect();
      const err = collect();
      const code = await runUpload(
        flags(UPLOAD_COMMAND, ['--control-plane', cp.url, '--token', ADMIN_TOKEN, '--model', 'weather', '--file', exampleOnnx('weather'), '--metrics', 'accuracy=0.8', '--create-model', '--alias', 'production']),
        silent,
        out,
        err.out,
      );
      t.equal(code, 0, 'no gateway is connected: nothing to wait for, not a failure');
      const printed = JSON.parse(text());
      t.same({ ...printed, sha256: printed.sha256.length, fleet: { ...printed.fleet, seconds: typeof printed.fleet.seconds } }, {
        model: 'weather', version: 1, sha256: 64, config: null, profile: null, alias: 'production', fleet: { gateways: 0, loaded: 0, failed: 0, states: [], seconds: 'number' },
      });
      t.match(err.text(), /weather version 1 is production; no gateway is connected/);
      const read = await cp.gql('{ model(name: "weather") { aliases { name version { number metrics { name value } lineage { source } } } } }');
      t.same(read.data.model.aliases[0].version.metrics, [{ name: 'accuracy', value: 0.8 }]);
      t.equal(read.data.model.aliases[0].name, 'production');
      t.match(read.data.model.aliases[0].version.lineage.source, /weather\/1\/model\.onnx$/);

      const viewer = await cp.token('viewer');
      const base = ['--control-plane', cp.url, '--model', 'weather', '--file', exampleOnnx('weather')];
      await t.rejects(runUpload(flags(UPLOAD_COMMAND, [...base, '--token', viewer]), silent, out), { code: 'SLUICE_E_AUTH_FORBIDDEN' }, "the control plane's code");
      t.throws(() => flags(UPLOAD_COMMAND, base), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'token' } }, 'a required flag missing is refused before any call');
      await t.rejects(runUpload(flags(UPLOAD_COMMAND, [...base, '--token', ADMIN_TOKEN, '--metrics', 'accuracy']), silent, out), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'metrics' } });
    });

    t.test('set-alias reports each gateway: exit 1 with the reasons when none loaded the version', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
      await cp.upload('weather', exampleOnnx('weather'));
      const gw = await cp.token('gateway', 'edge-1');
      await cp.gql('mutation { registerGateway(input: { name: "edge-1" }) { id } }', {}, gw);
      const reason = 'model weather version 1 failed to load: the reason, whole (SLUICE_E_MODEL_LOAD_FAILED)';
      const beat = (state: string) =>
        cp.gql('mutation($l: [LoadedVersionInput!]!) { heartbeat(input: { name: "edge-1", loaded: $l, health: DEGRADED }) { id } }', { l: [{ model: 'weather', version: 1, state, ...(state === 'failed' ? { reason } : {}) }] }, gw);
      await beat('failed');
      const argv = ['--control-plane', cp.url, '--token', ADMIN_TOKEN, '--model', 'weather', '--version', '1'];
      const stale = collect();
      t.equal(await runSetAlias(flags(SET_ALIAS_COMMAND, [...argv, '--wait-seconds', '1']), silent, collect().out, stale.out), 1);
      t.match(stale.text(), 'gateway edge-1 has not loaded it within 1 s (pending)', 'a refusal reported before the move is an earlier attempt');
      const refused = collect();
      const moving = runSetAlias(flags(SET_ALIAS_COMMAND, [...argv, '--wait-seconds', '5']), silent, collect().out, refused.out);
      await new Promise((r) => setTimeout(r, 300));
      await beat('failed');
      t.equal(await moving, 1);
      t.match(refused.text(), 'loaded on 0 of 1 gateway');
      t.match(refused.text(), `gateway edge-1 refused it: ${reason}`);
      t.match(refused.text(), 'SLUICE_E_FLEET_NOT_LOADED');
      await beat('ready');
      const loaded = collect();
      const out = collect();
      t.equal(await runSetAlias(flags(SET_ALIAS_COMMAND, [...argv, '--wait-seconds', '5']), silent, out.out, loaded.out), 0);
      t.match(loaded.text(), 'weather version 1 is production: loaded on 1 of 1 gateway');
      t.match(JSON.parse(out.text()).fleet, { gateways: 1, loaded: 1, states: [{ gateway: 'edge-1', state: 'ready' }] });
      await t.rejects(runSetAlias(flags(SET_ALIAS_COMMAND, [...argv.slice(0, -1), '7']), silent, out.out, loaded.out), { code: 'SLUICE_E_MODEL_VERSION_NOT_FOUND' });
      await t.rejects(runSetAlias(flags(SET_ALIAS_COMMAND, [...argv, '--wait-seconds=-1']), silent, out.out, loaded.out), { code: 'SLUICE_E_CONFIG_INVALID' });
    });

    t.test('audit export writes every event as a JSON line and reports a broken chain', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
      await cp.token('viewer');
      const { out, text } = collect();
      const result = await exportAuditLog({ dataDir: cp.dataDir, db: cp.db, out });
      t.same(result, { events: 3, verification: { ok: true, checkedEvents: 3, firstBad: null, checkpoints: null, firstBadCheckpoint: null } }, 'the export checks the chain; audit verify checks the checkpoints too');
      const lines = text().trim().split('\n').map((l) => JSON.parse(l));
      t.same(lines.map((e) => [e.seq, e.action]), [[1, 'token.create'], [2, 'model.create'], [3, 'token.create']]);
      t.equal(lines[1].prevHash, lines[0].hash);

      await cp.sql(`UPDATE audit_events SET resource = 'model/other' WHERE seq = 2`);
      const broken = collect();
      const where = cp.db === undefined ? ['--data', cp.dataDir] : ['--data', cp.dataDir, '--db', cp.db];
      t.equal(await runAuditExport(flags(AUDIT_EXPORT_COMMAND, where), silent, broken.out), 1, 'exit code 1 when the chain is broken');
      t.equal(broken.text().trim().split('\n').length, 3, 'the export still writes every event');
      if (dialect === 'sqlite') await t.rejects(exportAuditLog({ dataDir: t.testdir(), out }), { code: 'SLUICE_E_CONFIG_INVALID' }, 'a folder without a database is an error');
    });

    t.test('audit export spells every event as the auditEvents query does', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const dev = await cp.token('developer');
      await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }', {}, dev);
      await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }', {}, dev);
      const viewer = await cp.token('viewer');
      await cp.gql('mutation { createModel(input: { name: "denied" }) { id } }', {}, viewer);
      const fields = 'seq at actorId actorName role action resource before after requestId clientAddress outcome reason prevHash hash';
      const api = (await cp.gql(`{ auditEvents(first: 100) { edges { node { ${fields} } } } }`)).data.auditEvents.edges.map((e: any) => e.node).reverse();
      const { out, text } = collect();
      await exportAuditLog({ dataDir: cp.dataDir, db: cp.db, out });
      const exported = text().trim().split('\n').map((l) => JSON.parse(l));
      t.same(new Set(api.map((e: any) => e.outcome)), new Set(['SUCCESS', 'FAILED', 'DENIED']), 'the history holds every outcome');
      t.same(exported, api);
    });

    t.test('token create writes a working token into the store, audited as a local action', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const where = cp.db === undefined ? ['--data', cp.dataDir] : ['--data', t.testdir(), '--db', cp.db];
      const { out, text } = collect();
      t.equal(await runTokenCreate(flags(TOKEN_CREATE_COMMAND, ['--role', 'admin', ...where]), silent, out), 0);
      const created = JSON.parse(text());
      t.match(created, { role: 'admin', name: 'admin-recovered', secret: /^sluice_/ });
      t.same((await cp.gql('{ me { tokenId role } }', {}, created.secret)).data.me, { tokenId: created.id, role: 'ADMIN' }, 'the running control plane accepts it');
      const events = await cp.gql('{ auditEvents(first: 1, filter: { action: "token.create" }) { edges { node { actorId actorName resource after } } } }');
      t.match(events.data.auditEvents.edges[0].node, { actorId: 'local-cli', actorName: /^sluice token create \(.+@.+\)$/, resource: `token/${created.id}`, after: { role: 'admin' } });
      t.same((await cp.gql('{ verifyAudit { ok } }')).data.verifyAudit, { ok: true });
      t.throws(() => flags(TOKEN_CREATE_COMMAND, ['--role', 'root', ...where]), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'role' } });
      if (dialect === 'sqlite') {
        await t.rejects(runTokenCreate(flags(TOKEN_CREATE_COMMAND, ['--role', 'admin', '--data', t.testdir()]), silent, out), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'data' } }, 'a folder without a database is refused, not created');
      }
    });

    t.test('a model repository is registered at first start by the system, and not again on restart', async (t) => {
      const first = await startTestControlPlane(t, dialect, { seedRepository: exampleModels(), localGateway: true });
      const models = await first.gql('{ models { edges { node { name owner aliases { name version { number } } } } } }');
      t.same(
        models.data.models.edges.map((e: any) => e.node),
        ['text-detection', 'text-direction', 'weather'].map((name) => ({ name, owner: 'system', aliases: [{ name: 'production', version: { number: 1 } }] })),
      );
      const bySystem = await first.gql('{ auditEvents(first: 100, filter: { actorId: "system" }) { edges { node { action } } } }');
      t.same(new Set(bySystem.data.auditEvents.edges.map((e: any) => e.node.action)), new Set(['token.create', 'model.create', 'model_version.create', 'alias.set']));
      const token = first.server.localGatewayToken!;
      t.equal((await first.gql('{ me { role name } }', {}, token)).data.me.role, 'GATEWAY');
      await first.close();

      const again = await startTestControlPlane(t, dialect, { dataDir: first.dataDir, ...(first.db ? { db: first.db } : {}), seedRepository: exampleModels(), localGateway: true });
      t.equal(again.server.localGatewayToken, token, 'the local gateway keeps its token across restarts');
      const versions = await again.gql('{ model(name: "weather") { versions { edges { node { number } } } } }');
      t.equal(versions.data.model.versions.edges.length, 1, 'nothing is registered twice');
      t.same((await again.gql('{ verifyAudit { ok } }')).data.verifyAudit, { ok: true });
    });
  });
}
