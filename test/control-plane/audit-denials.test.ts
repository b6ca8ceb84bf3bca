import t from 'tap';
import { startTestControlPlane } from './harness.js';

interface Denied {
  actorId: string;
  action: string;
  reason: string;
  clientAddress: string;
  after: { deniedCalls: number; repeated?: boolean };
}

/** Run `calls` calls, `parallel` at a time. */
async function inParallel(calls: number, parallel: number, call: () => Promise<unknown>): Promise<void> {
  let left = calls;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (left-- > 0) await call();
  }));
}

t.test('1,000 forbidden calls and 100 calls with an unknown token become a few counted events with the right totals', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite', { denialWindowSeconds: 60 });
  const viewer = await cp.token('viewer', 'curious');
  const codes = new Set<string>();
  await inParallel(1000, 8, async () => {
    const r = await cp.gql('mutation { createModel(input: { name: "nope" }) { id } }', {}, viewer);
    codes.add(r.errors?.[0]?.extensions?.code ?? 'none');
  });
  await inParallel(100, 8, async () => {
    const r = await cp.gql('{ me { name } }', {}, 'sluice_not-a-token-at-all');
    codes.add(r.errors?.[0]?.extensions?.code ?? 'none');
  });
  t.same([...codes].sort(), ['SLUICE_E_AUTH_FORBIDDEN', 'SLUICE_E_AUTH_INVALID'], 'every call was refused');

  const denied = async (): Promise<Denied[]> => {
    const r = await cp.gql('{ auditEvents(first: 100, filter: { outcome: DENIED }) { edges { node { actorId action reason clientAddress after } } } }');
    return (r.data.auditEvents.edges as { node: Denied }[]).map((e) => e.node);
  };
  const open = await denied();
  t.equal(open.length, 2, 'while the window is open: one event per caller, written at its first denial');

  await cp.server.auditCheckpoints.tick(Date.now() + 61_000);
  const closed = await denied();
  t.ok(closed.length <= 4, `after the window: a bounded number of events (${closed.length})`);
  const total = (pick: (d: Denied) => boolean) => closed.filter(pick).reduce((n, d) => n + d.after.deniedCalls, 0);
  t.equal(total((d) => d.action === 'model.create' && d.reason === 'needs registry:write'), 1000, 'the viewer token: 1,000 denials counted');
  t.equal(total((d) => d.actorId === 'unauthenticated' && d.clientAddress === '127.0.0.1' && d.reason === 'SLUICE_E_AUTH_INVALID'), 100, 'the unknown token: 100 counted per client address');
  t.ok(closed.filter((d) => d.after.repeated).every((d) => d.after.deniedCalls > 1), 'the repeats are one event each');

  const verify = await cp.gql('{ verifyAudit { ok } }');
  t.equal(verify.data.verifyAudit.ok, true, 'the counted events are part of the chain');
});
