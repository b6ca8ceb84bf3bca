import t from 'tap';
import { auditEventHash } from '../../control-plane/services/audit-chain.js';
import { dialects, modelWithVersion, startTestControlPlane, stopPostgres, type TestControlPlane } from './harness.js';

t.teardown(stopPostgres);

const VERIFY = '{ verifyAudit { ok checkedEvents firstBad { seq reason } } }';

/** A few audited changes: bootstrap token, model, version, alias, token. */
async function history(cp: TestControlPlane): Promise<number> {
  await modelWithVersion(cp);
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  await cp.token('viewer', 'auditor');
  await cp.gql('mutation { updateModel(input: { name: "weather", description: "changed" }) { id } }');
  const r = await cp.gql(VERIFY);
  return r.data.verifyAudit.checkedEvents;
}

for (const dialect of dialects()) {
  t.test(`audit log on ${dialect}`, async (t) => {
    t.test('events form an unbroken hash chain that verifies', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const n = await history(cp);
      t.equal(n, 6, 'bootstrap token, model, version, alias, token, update');
      const r = await cp.gql(VERIFY);
      t.same(r.data.verifyAudit, { ok: true, checkedEvents: 6, firstBad: null });
      const events = await cp.gql('{ auditEvents(first: 100) { edges { node { seq prevHash hash actorId actorName role action resource at } } } }');
      const nodes = events.data.auditEvents.edges.map((e: any) => e.node).reverse();
      t.same(nodes.map((e: any) => e.seq), [1, 2, 3, 4, 5, 6]);
      for (let i = 1; i < nodes.length; i++) t.equal(nodes[i].prevHash, nodes[i - 1].hash, `event ${i + 1} links to event ${i}`);
      t.same(nodes[0], { ...nodes[0], actorId: 'system', actorName: 'system', role: 'system', action: 'token.create' }, 'the first admin token is created by the system');
    });

    t.test('a direct UPDATE of an event is found at that event', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await history(cp);
      await cp.sql(`UPDATE audit_events SET after_state = '{"version":99}' WHERE seq = 4`);
      const r = await cp.gql(VERIFY);
      t.same(r.data.verifyAudit.firstBad, { seq: 4, reason: 'HASH_MISMATCH' });
      t.equal(r.data.verifyAudit.ok, false);
    });

    t.test('an UPDATE that also recomputes the edited event\'s hash is found at the next event', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await history(cp);
      const r0 = await cp.gql('{ auditEvents(first: 100) { edges { node { seq at actorId actorName role action resource before after requestId clientAddress outcome reason prevHash } } } }');
      const e = r0.data.auditEvents.edges.map((x: any) => x.node).find((n: any) => n.seq === 3);
      const forged = auditEventHash({
        seq: 3, at: e.at, actor_id: e.actorId, actor_name: 'someone-else', role: e.role, action: e.action, resource: e.resource,
        before_state: e.before === null ? null : JSON.stringify(e.before), after_state: e.after === null ? null : JSON.stringify(e.after),
        request_id: e.requestId, client_address: e.clientAddress, outcome: e.outcome.toLowerCase(), reason: e.reason, prev_hash: e.prevHash,
      });
      await cp.sql(`UPDATE audit_events SET actor_name = 'someone-else', hash = '${forged}' WHERE seq = 3`);
      const r = await cp.gql(VERIFY);
      t.same(r.data.verifyAudit.firstBad, { seq: 4, reason: 'LINK_MISMATCH' });
    });

    t.test('a DELETE of an event in the middle is found at the missing sequence number', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await history(cp);
      await cp.sql('DELETE FROM audit_events WHERE seq = 3');
      const r = await cp.gql(VERIFY);
      t.same(r.data.verifyAudit.firstBad, { seq: 3, reason: 'MISSING_EVENT' });
    });

    t.test('a DELETE of the newest event is found through the chain head', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const n = await history(cp);
      await cp.sql(`DELETE FROM audit_events WHERE seq = ${n}`);
      const r = await cp.gql(VERIFY);
      t.same(r.data.verifyAudit.firstBad, { seq: n, reason: 'MISSING_EVENT' });
    });

    t.test('a chain rewritten from an event onward is found by its links', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await history(cp);
      await cp.sql(`UPDATE audit_events SET prev_hash = '${'1'.repeat(64)}' WHERE seq = 5`);
      const r = await cp.gql(VERIFY);
      t.same(r.data.verifyAudit.firstBad, { seq: 5, reason: 'LINK_MISMATCH' });
    });

    t.test('events are filtered by actor, action, resource and time, and paged', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const start = new Date().toISOString();
      await history(cp);
      const me = await cp.gql('{ me { tokenId } }');
      const byActor = await cp.gql('query($a: String) { auditEvents(filter: { actorId: $a }) { edges { node { action } } } }', { a: me.data.me.tokenId });
      t.same(byActor.data.auditEvents.edges.map((e: any) => e.node.action), ['model.update', 'token.create', 'alias.set', 'model_version.create', 'model.create']);
      const byResource = await cp.gql('{ auditEvents(filter: { resource: "model/weather/alias/production" }) { edges { node { action after } } } }');
      t.same(byResource.data.auditEvents.edges.map((e: any) => e.node), [{ action: 'alias.set', after: { version: 1 } }]);
      const future = await cp.gql('query($s: DateTime) { auditEvents(filter: { since: $s }) { edges { cursor } } }', { s: new Date(Date.now() + 60_000).toISOString() });
      t.same(future.data.auditEvents.edges, []);
      const window = await cp.gql('query($s: DateTime, $u: DateTime) { auditEvents(filter: { since: $s, until: $u }) { edges { cursor } } }', {
        s: start,
        u: new Date(Date.now() + 60_000).toISOString(),
      });
      t.equal(window.data.auditEvents.edges.length, 5, 'everything after the bootstrap');
      const badTime = await cp.gql('{ auditEvents(filter: { since: "yesterday" }) { edges { cursor } } }');
      t.ok(badTime.errors, 'a time that is not ISO-8601 is refused');
      const page1 = await cp.gql('{ auditEvents(first: 4) { edges { node { seq } } pageInfo { hasNextPage endCursor } } }');
      const page2 = await cp.gql('query($a: String) { auditEvents(first: 4, after: $a) { edges { node { seq } } pageInfo { hasNextPage } } }', { a: page1.data.auditEvents.pageInfo.endCursor });
      t.same([...page1.data.auditEvents.edges, ...page2.data.auditEvents.edges].map((e: any) => e.node.seq), [6, 5, 4, 3, 2, 1]);
      t.equal(page2.data.auditEvents.pageInfo.hasNextPage, false);
    });

    t.test('concurrent mutations never fork the chain', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      // On PostgreSQL a second replica on the same database writes at the same time: only the
      // chain-head row lock keeps the two from appending after the same event.
      const replica = dialect === 'postgres' ? await startTestControlPlane(t, dialect, { db: cp.db! }) : cp;
      const viewer = await cp.token('viewer', 'nosy');
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 40; i++) {
        const target = i % 2 === 0 ? cp : replica;
        if (i % 4 === 3) calls.push(target.gql('mutation($n: String!) { createModel(input: { name: $n }) { id } }', { n: `denied-${i}` }, viewer));
        else calls.push(target.gql('mutation($n: String!) { createModel(input: { name: $n }) { id } }', { n: `model-${i}` }));
      }
      calls.push(...Array.from({ length: 5 }, () => cp.gql('mutation { createModel(input: { name: "contended" }) { id } }')));
      await Promise.all(calls);
      const r = await cp.gql(VERIFY);
      // bootstrap + viewer token + 30 creates + 1 denial (the viewer's 9 repeats are counted into
      // one event when its window closes: audit-denials.ts) + 1 contended create + 4 failed duplicates
      t.same(r.data.verifyAudit, { ok: true, checkedEvents: 2 + 30 + 1 + 1 + 4, firstBad: null });
      const models = await cp.gql('{ models(first: 100) { edges { cursor } } }');
      t.equal(models.data.models.edges.length, 31);
    });
  });
}
