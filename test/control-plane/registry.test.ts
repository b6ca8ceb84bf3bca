import t from 'tap';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dialects, exampleOnnx, modelWithVersion, startTestControlPlane, stopPostgres } from './harness.js';

t.teardown(stopPostgres);

for (const dialect of dialects()) {
  t.test(`registry on ${dialect}`, async (t) => {
    t.test('a model is created with description, owner and tags, read back and updated', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const created = await cp.gql(
        `mutation { createModel(input: { name: "weather", description: "Seattle weather", tags: [{ key: "team", value: "ml" }] }) {
          name description owner tags { key value } } }`,
      );
      t.same(created.data.createModel, { name: 'weather', description: 'Seattle weather', owner: 'admin', tags: [{ key: 'team', value: 'ml' }] });
      const updated = await cp.gql(`mutation { updateModel(input: { name: "weather", owner: "forecasting", tags: [] }) { owner description tags { key } } }`);
      t.same(updated.data.updateModel, { owner: 'forecasting', description: 'Seattle weather', tags: [] });
      const read = await cp.gql(`{ model(name: "weather") { owner } missing: model(name: "nope") { owner } }`);
      t.same(read.data, { model: { owner: 'forecasting' }, missing: null });
    });

    t.test('a duplicate or badly named model is refused with a code', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await cp.gql(`mutation { createModel(input: { name: "weather" }) { id } }`);
      const dup = await cp.gql(`mutation { createModel(input: { name: "weather" }) { id } }`);
      t.equal(dup.errors?.[0]?.extensions?.code, 'SLUICE_E_STORE_CONFLICT');
      const bad = await cp.gql(`mutation { createModel(input: { name: "../etc" }) { id } }`);
      t.equal(bad.errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION');
      const noModel = await cp.gql(`mutation { updateModel(input: { name: "ghost", owner: "x" }) { id } }`);
      t.equal(noModel.errors?.[0]?.extensions?.code, 'SLUICE_E_MODEL_NOT_FOUND');
    });

    t.test('models are paged with first/after in name order', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const names = ['m-a', 'm-b', 'm-c', 'm-d', 'm-e'];
      for (const name of [...names].reverse()) await cp.gql(`mutation($n: String!) { createModel(input: { name: $n }) { id } }`, { n: name });
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const r: any = await cp.gql(`query($after: String) { models(first: 2, after: $after) { edges { node { name } cursor } pageInfo { hasNextPage endCursor } } }`, { after });
        seen.push(...r.data.models.edges.map((e: any) => e.node.name));
        pages++;
        if (!r.data.models.pageInfo.hasNextPage) break;
        after = r.data.models.pageInfo.endCursor;
      }
      t.same(seen, names);
      t.equal(pages, 3);
      const tooMany = await cp.gql(`{ models(first: 101) { edges { cursor } } }`);
      t.equal(tooMany.errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION');
      const foreign = await cp.gql(`{ auditEvents(first: 1) { pageInfo { endCursor } } }`);
      const wrongList = await cp.gql(`query($a: String) { models(after: $a) { edges { cursor } } }`, { a: foreign.data.auditEvents.pageInfo.endCursor });
      t.equal(wrongList.errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION', 'a cursor of another list is refused');
    });

    t.test('an uploaded ONNX file becomes a numbered version with digest, size, signature, metrics and lineage', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await cp.gql(`mutation { createModel(input: { name: "weather" }) { id } }`);
      const file = exampleOnnx('weather');
      const bytes = readFileSync(file);
      const up = await cp.upload('weather', file, undefined, {
        metrics: [{ name: 'accuracy', value: 0.81 }],
        lineage: { datasetDigest: 'sha256:abc', parameters: { epochs: 200 }, source: 'control-plane/training' },
      });
      t.notOk(up.errors, JSON.stringify(up.errors));
      const v = (up.data as any).createModelVersion;
      t.equal(v.number, 1);
      t.equal(v.status, 'READY');
      t.equal(v.artifact.sha256, createHash('sha256').update(bytes).digest('hex'));
      t.equal(v.artifact.size, bytes.length);
      t.same(v.signature.inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 5] }]);
      t.same(v.signature.outputs.map((o: any) => o.name), ['probabilities', 'label']);
      const second = await cp.upload('weather', exampleOnnx('text-direction'));
      t.equal((second.data as any).createModelVersion.number, 2);
      // The PaddleOCR file declares only the channel count; batch, height and width are dynamic.
      t.same((second.data as any).createModelVersion.signature.inputs, [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }]);

      const read = await cp.gql(`{ modelVersion(model: "weather", version: 1) { metrics { name value } lineage { datasetDigest parameters source } createdBy model { name } } }`);
      t.same(read.data.modelVersion, {
        metrics: [{ name: 'accuracy', value: 0.81 }],
        lineage: { datasetDigest: 'sha256:abc', parameters: { epochs: 200 }, source: 'control-plane/training' },
        createdBy: 'admin',
        model: { name: 'weather' },
      });
      const versions = await cp.gql(`{ model(name: "weather") { versions(first: 1) { edges { node { number } } pageInfo { hasNextPage endCursor } } } }`);
      t.same(versions.data.model.versions.edges, [{ node: { number: 2 } }], 'newest first');
      const next = await cp.gql(`query($a: String) { model(name: "weather") { versions(first: 1, after: $a) { edges { node { number } } pageInfo { hasNextPage } } } }`, {
        a: versions.data.model.versions.pageInfo.endCursor,
      });
      t.same(next.data.model.versions, { edges: [{ node: { number: 1 } }], pageInfo: { hasNextPage: false } });
    });

    t.test('a file that is not ONNX is refused and nothing is registered', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await cp.gql(`mutation { createModel(input: { name: "weather" }) { id } }`);
      const up = await cp.upload('weather', new TextEncoder().encode('this is not a model'));
      t.equal((up as any).errors?.[0]?.extensions?.code, 'SLUICE_E_ARTIFACT_INVALID');
      const versions = await cp.gql(`{ model(name: "weather") { versions { edges { cursor } } } }`);
      t.same(versions.data.model.versions.edges, []);
      const audit = await cp.gql(`{ auditEvents(first: 1) { edges { node { action outcome reason } } } }`);
      t.same(audit.data.auditEvents.edges[0].node, { action: 'model_version.create', outcome: 'FAILED', reason: 'SLUICE_E_ARTIFACT_INVALID' });
    });

    t.test('an alias moves atomically between versions and cannot point at an archived one', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await modelWithVersion(cp);
      await cp.upload('weather', exampleOnnx('weather'), undefined, { description: 'same bytes, new version', allowDuplicate: true });
      const set = await cp.gql(`mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name version { number } updatedBy } }`);
      t.same(set.data.setAlias, { name: 'production', version: { number: 1 }, updatedBy: 'admin' });
      const moved = await cp.gql(`mutation { setAlias(input: { model: "weather", alias: "production", version: 2 }) { version { number aliases } } }`);
      t.same(moved.data.setAlias.version, { number: 2, aliases: ['production'] });
      const aliases = await cp.gql(`{ model(name: "weather") { aliases { name version { number } } } }`);
      t.same(aliases.data.model.aliases, [{ name: 'production', version: { number: 2 } }], 'one alias, on the new version');

      const archivePinned = await cp.gql(`mutation { setModelVersionStatus(input: { model: "weather", version: 2, status: ARCHIVED }) { status } }`);
      t.equal(archivePinned.errors?.[0]?.extensions?.code, 'SLUICE_E_STORE_CONFLICT', 'an aliased version cannot be archived');
      const archived = await cp.gql(`mutation { setModelVersionStatus(input: { model: "weather", version: 1, status: ARCHIVED }) { status } }`);
      t.equal(archived.data.setModelVersionStatus.status, 'ARCHIVED');
      const toArchived = await cp.gql(`mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }`);
      t.equal(toArchived.errors?.[0]?.extensions?.code, 'SLUICE_E_STORE_CONFLICT');
      const missing = await cp.gql(`mutation { setAlias(input: { model: "weather", alias: "production", version: 9 }) { name } }`);
      t.equal(missing.errors?.[0]?.extensions?.code, 'SLUICE_E_MODEL_VERSION_NOT_FOUND');

      const audit = await cp.gql(`{ auditEvents(filter: { action: "alias.set", outcome: SUCCESS }) { edges { node { before after resource } } } }`);
      t.same(
        audit.data.auditEvents.edges.map((e: any) => [e.node.before, e.node.after]),
        [[{ version: 1 }, { version: 2 }], [null, { version: 1 }]],
        'each move is audited with before and after',
      );

      const deleted = await cp.gql(`mutation { deleteAlias(input: { model: "weather", alias: "production" }) { deleted } }`);
      t.same(deleted.data.deleteAlias, { deleted: true });
      const again = await cp.gql(`mutation { deleteAlias(input: { model: "weather", alias: "production" }) { deleted } }`);
      t.equal(again.errors?.[0]?.extensions?.code, 'SLUICE_E_STORE_NOT_FOUND');
    });

    t.test('concurrent alias moves leave the alias on one of the requested versions', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await modelWithVersion(cp);
      for (let i = 0; i < 3; i++) await cp.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true });
      const moves = await Promise.all(
        [1, 2, 3, 4, 1, 2, 3, 4].map((v) => cp.gql(`mutation($v: Int!) { setAlias(input: { model: "weather", alias: "production", version: $v }) { name } }`, { v })),
      );
      t.same(moves.filter((m) => m.errors), []);
      const aliases = await cp.gql(`{ model(name: "weather") { aliases { name } } }`);
      t.equal(aliases.data.model.aliases.length, 1);
    });
  });
}
