import t from 'tap';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../lib/log.js';
import { exportAuditLog, runAuditExport, runUpload } from '../../cli/control-plane-commands.js';
import { exampleModels } from '../helpers/paths.js';
import { ADMIN_TOKEN, dialects, exampleOnnx, startTestControlPlane, stopPostgres } from '../control-plane/harness.js';

t.teardown(stopPostgres);

const silent = createLogger('test', 'silent');

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
      const code = await runUpload(
        { 'control-plane': cp.url, token: ADMIN_TOKEN, model: 'weather', file: exampleOnnx('weather'), metrics: ['accuracy=0.8'], 'create-model': true, alias: 'production' },
        silent,
        out,
      );
      t.equal(code, 0);
      const printed = JSON.parse(text());
      t.same({ ...printed, sha256: printed.sha256.length }, { model: 'weather', version: 1, sha256: 64 });
      const read = await cp.gql('{ model(name: "weather") { aliases { name version { number metrics { name value } lineage { source } } } } }');
      t.same(read.data.model.aliases[0].version.metrics, [{ name: 'accuracy', value: 0.8 }]);
      t.equal(read.data.model.aliases[0].name, 'production');
      t.match(read.data.model.aliases[0].version.lineage.source, /weather\/1\/model\.onnx$/);

      const viewer = await cp.token('viewer');
      await t.rejects(runUpload({ 'control-plane': cp.url, token: viewer, model: 'weather', file: exampleOnnx('weather') }, silent, out), { code: 'SLUICE_E_VALIDATION', details: { code: 'SLUICE_E_AUTH_FORBIDDEN' } });
      await t.rejects(runUpload({ 'control-plane': cp.url, model: 'weather', file: exampleOnnx('weather') }, silent, out), { code: 'SLUICE_E_CONFIG_INVALID' });
      await t.rejects(runUpload({ 'control-plane': cp.url, token: ADMIN_TOKEN, model: 'weather', file: exampleOnnx('weather'), metrics: ['accuracy'] }, silent, out), { code: 'SLUICE_E_CONFIG_INVALID' });
    });

    t.test('audit export writes every event as a JSON line and reports a broken chain', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
      await cp.token('viewer');
      const { out, text } = collect();
      const result = await exportAuditLog({ dataDir: cp.dataDir, db: cp.db, out });
      t.same(result, { events: 3, verification: { ok: true, checkedEvents: 3, firstBad: null } });
      const lines = text().trim().split('\n').map((l) => JSON.parse(l));
      t.same(lines.map((e) => [e.seq, e.action]), [[1, 'token.create'], [2, 'model.create'], [3, 'token.create']]);
      t.equal(lines[1].prevHash, lines[0].hash);

      await cp.sql(`UPDATE audit_events SET resource = 'model/other' WHERE seq = 2`);
      const broken = collect();
      t.equal(await runAuditExport({ data: cp.dataDir, db: cp.db }, silent, broken.out), 1, 'exit code 1 when the chain is broken');
      t.equal(broken.text().trim().split('\n').length, 3, 'the export still writes every event');
      if (dialect === 'sqlite') await t.rejects(exportAuditLog({ dataDir: t.testdir(), out }), { code: 'SLUICE_E_CONFIG_INVALID' }, 'a folder without a database is an error');
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
