// A gateway for the shadow benchmark: the bench's weather repository with a second version (the
// same weights, so every copy does the work a real candidate would), and — with --share > 0 — a
// SHADOW rollout copying that share of version 1's calls to version 2. GET /bench/traffic returns
// and resets the traffic windows summed per version (how many copies ran, agreed, failed).
//
//   node dist/bench/shadow/gateway-process.js --models DIR --candidate DIR [--share 1]
import { parseArgs } from 'node:util';
import { announce, startBenchGateway } from '../targets/bench-gateway.js';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string' },
    candidate: { type: 'string' },
    share: { type: 'string', default: '0' },
  },
});
const share = Number(args.share);
const totals = new Map<number, { calls: number; errors: number; copies: number; copyErrors: number; compared: number; agreed: number }>();
const gw = await startBenchGateway('bench-shadow', {
  modelRepository: args.models!,
  extensions: [
    (ctx) => {
      ctx.app.get('/bench/traffic', (res) => {
        for (const w of ctx.inference.traffic.take()) {
          const t = totals.get(w.version) ?? { calls: 0, errors: 0, copies: 0, copyErrors: 0, compared: 0, agreed: 0 };
          t.calls += w.calls;
          t.errors += w.errors;
          t.copies += w.mirrored.calls;
          t.copyErrors += w.mirrored.errors;
          t.compared += w.mirrored.compared;
          t.agreed += w.mirrored.agreed;
          totals.set(w.version, t);
        }
        res.writeHeader('Content-Type', 'application/json').end(JSON.stringify(Object.fromEntries(totals)));
        totals.clear();
      });
    },
  ],
});
await gw.repository.loadVersion('weather', '2', { dir: args.candidate! });
gw.repository.setRouting('weather', { default_version: '1', weights: { 1: 100 } }, share > 0
  ? { id: 'bench-shadow', strategy: 'SHADOW', stable: 1, candidate: 2, sticky: false, mirrorShare: share, agreementTolerance: 1e-6 }
  : null);
announce(gw);
