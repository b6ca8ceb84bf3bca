// Micro-benchmark: what the gateway's access check adds to a call on its main thread, in
// nanoseconds of process CPU time (other processes on the shared machine do not inflate it),
// median of rounds, with 1 000 live tokens (access/access-policy.ts):
// - a cached token with `infer:*` and no rate limit (the steady state of a caller);
// - the same token with a rate limit (a token-bucket take per call);
// - a token seen for the first time after an access update (SHA-256 of the secret, then cached).
// Compare with the whole call: weather JSON at 64 connections answers a few thousand calls per
// second per core, i.e. hundreds of microseconds of CPU per call.
//
//   node dist/bench/micro/access/check.js [--ms 300] [--rounds 5]
import { microOptions, nsPerOp } from '../cpu-timer.js';
import { median } from '../../report/summary.js';
import { GatewayAccess, Need, sha256Hex } from '../../../gateway/access/access-policy.js';
import type { WireAccessToken } from '../../../lib/sync-wire.js';

const { ms: MS, rounds: ROUNDS } = microOptions();
const measure = (fn: (i: number) => void): number => nsPerOp(fn, MS);

const secrets = Array.from({ length: 1000 }, (_, i) => `sluice_bench-token-${i.toString().padStart(6, '0')}-abcdefghijklmnopqrstuvwxyz`);
const tokens: WireAccessToken[] = secrets.map((s, i) => ({
  sha256: sha256Hex(s), name: `t${i}`, scopes: i % 2 === 0 ? ['infer:*', 'metrics'] : ['infer:weather'],
  rateLimit: i === 1 ? 1e9 : null, rateBurst: i === 1 ? 1e9 : null,
}));
const access = new GatewayAccess({ tokens, auth: 'on' });
access.decide(['127.0.0.1']);
const cached = `Bearer ${secrets[0]}`;
const limited = `Bearer ${secrets[1]}`;
const fresh = secrets.map((s) => `Bearer ${s}`);

const rows: [string, number[]][] = [['cached token, infer:*', []], ['cached token with a rate limit', []], ['first sight of a token (SHA-256, then cached)', []]];
for (let r = 0; r < ROUNDS; r++) {
  rows[0]![1].push(measure(() => access.check(cached, Need.Infer, 'weather')));
  rows[1]![1].push(measure(() => access.check(limited, Need.Infer, 'weather')));
  rows[2]![1].push(measure((i) => {
    // An update clears the verdict cache: every 1000th call re-hashes all 1000 tokens once each.
    if (i % 1000 === 0) access.update(tokens);
    access.check(fresh[i % 1000]!, Need.Infer, 'weather');
  }));
}
for (const [label, xs] of rows) console.log(`${label}: ${median(xs).toFixed(0)} ns per call (median of ${ROUNDS} rounds; ${xs.map((x) => x.toFixed(0)).join(', ')})`);
