// Feedback behind a load balancer, for real: one control plane (SQLite), three `sluice gateway`
// processes synced from it with gateway auth on, and Debian's nginx running the shipped
// deploy/nginx/sluice.conf round-robin in front. Every answer given through nginx takes its
// feedback through nginx, whichever gateway the feedback lands on: gateway-made ids, caller ids, a
// batch that spans gateways and a WebSocket frame; the gateways' feedback counters add up to what
// was given. Then one gateway is killed: feedback for its answers is refused with a code and the
// gateway that forwarded stays up; a forwarded call is never forwarded again.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestControlPlane, exampleOnnx } from '../../control-plane/harness.js';
import { startSluice, type SluiceProcess } from '../../helpers/cli.js';
import { freePorts, renderNginxConf, SHIPPED_NGINX_CONF, startNginx } from '../../helpers/nginx.js';
import { eventually } from '../../helpers/wait.js';
import { exampleModels } from '../../helpers/paths.js';
import { weatherRows } from '../gateway-harness.js';
import { SluiceWsClient } from '../../../gateway/client/index.js';
import { FORWARDED_HEADER } from '../../../gateway/feedback/feedback-forwarding.js';
import { ownerTag, parseGeneratedId } from '../../../gateway/feedback/owner-ids.js';

t.setTimeout(400_000);

interface Answer {
  id: string;
  label: number;
}

const CREATE = `mutation($i: CreateTokenInput!) { createToken(input: $i) { secret } }`;

t.test('three gateways behind nginx: feedback reaches the gateway that answered', async (t) => {
  // Heartbeats every 3 s: a gateway is a peer until 9 s without one (a slow beat on a busy machine
  // does not drop it), so the killed one is still listed for the calls right after the kill.
  const cp = await startTestControlPlane(t, 'sqlite', { heartbeatIntervalSeconds: 3 });
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const source = join(exampleModels(), 'weather');
  const up = await cp.upload('weather', exampleOnnx('weather'), undefined, { config: readFileSync(join(source, 'config.json')) });
  t.notOk(up.errors, 'weather v1 uploaded with its config (class names)');
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const caller = await cp.gql(CREATE, { i: { name: 'app', role: 'DEVELOPER', scopes: ['infer:weather', 'metrics'] } });
  const secret = caller.data.createToken.secret as string;
  const auth = { authorization: `Bearer ${secret}` };

  const ports = await freePorts(5);
  const gwPorts = ports.slice(0, 3);
  const dir = t.testdir();
  const gateways: SluiceProcess[] = [];
  t.teardown(() => gateways.forEach((g) => g.proc.exitCode === null && g.proc.kill('SIGKILL')));
  for (let i = 0; i < 3; i++) {
    const token = await cp.token('gateway', `gw-${i}`);
    gateways.push(await startSluice([
      'gateway', '--models', join(dir, `models-${i}`), '--port', String(gwPorts[i]), '--name', `gw-${i}`,
      '--control-plane', cp.url, '--token', token, '--gateway-auth', 'on', '--drain-timeout-ms', '1000',
    ]));
  }
  const direct = gwPorts.map((p) => `http://127.0.0.1:${p}`);
  const cpPort = new URL(cp.url).port;
  const conf = renderNginxConf(readFileSync(SHIPPED_NGINX_CONF, 'utf8'), {
    upstreams: { sluice_gateways: direct.map((u) => u.slice('http://'.length)), sluice_control_plane: [`127.0.0.1:${cpPort}`] },
    listen: [ports[3]!, ports[4]!],
  });
  const nginx = await startNginx(join(dir, 'nginx'), conf, [ports[3]!, ports[4]!]);
  t.teardown(() => nginx.stop());
  const lb = `http://127.0.0.1:${ports[3]}`;

  const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...auth, ...headers }, body: JSON.stringify(body) });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as any };
  };
  const infer = async (base: string, id?: string): Promise<Answer> => {
    const r = await post(`${base}/v2/models/weather/infer`, { ...(id === undefined ? {} : { id }), inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: Array.from(weatherRows(1, id?.length ?? 3)) }] });
    if (r.status !== 200) throw new Error(`infer answered ${r.status} ${JSON.stringify(r.body)}`);
    return { id: r.body.id, label: (r.body.outputs as { name: string; data: number[] }[]).find((o) => o.name === 'label')!.data[0]! };
  };
  const feedback = (base: string, body: unknown, headers: Record<string, string> = {}) => post(`${base}/v2/models/weather/feedback`, body, headers);
  let given = 0;

  // Ready: each gateway serves weather, and each forwards an id another one made (peers known).
  for (const base of direct) await eventually(`${base} serves weather`, async () => (await infer(base).catch(() => undefined)) !== undefined || undefined, 120_000);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      if (i === j) continue;
      await eventually(`gw-${i} forwards to gw-${j}`, async () => {
        const a = await infer(direct[j]!);
        const r = await feedback(direct[i]!, { id: a.id, label: a.label });
        if (r.status === 200) given++;
        return r.status === 200 || undefined;
      }, 60_000);
    }
  }

  await t.test('gateway-made ids name their gateway, and feedback through nginx for each is accepted', async (t) => {
    const answers: Answer[] = [];
    for (let i = 0; i < 30; i++) answers.push(await infer(lb));
    const owners = new Set(answers.map((a) => parseGeneratedId(a.id)?.owner));
    t.same([...owners].sort(), ['gw-0', 'gw-1', 'gw-2'].map(ownerTag).sort(), 'nginx spread the calls over the three gateways, each id tagged by its maker');
    const statuses: number[] = [];
    for (const a of answers) {
      const r = await feedback(lb, { id: a.id, label: a.label });
      statuses.push(r.status);
      if (r.status !== 200) t.fail(`feedback for ${a.id}: ${r.status} ${JSON.stringify(r.body)}`);
      else t.match(r.body.accepted, [{ id: a.id, rows: 1, correct: 1 }]);
    }
    given += answers.length;
    t.same(statuses.filter((s) => s !== 200), [], 'no feedback refused (no SLUICE_E_FEEDBACK_UNKNOWN_ID)');
  });

  await t.test('caller ids are found on the gateway that holds them', async (t) => {
    const answers: Answer[] = [];
    for (let i = 0; i < 12; i++) answers.push(await infer(lb, `order-${1000 + i}`));
    for (const a of answers) {
      const r = await feedback(lb, { id: a.id, label: (a.label + 1) % 5 });
      t.equal(r.status, 200, `feedback for ${a.id}: ${JSON.stringify(r.body)}`);
      t.match(r.body.accepted, [{ id: a.id, correct: 0 }]);
    }
    given += answers.length;
  });

  await t.test('a batch spanning the gateways is accepted whole, in its order', async (t) => {
    const answers: Answer[] = [];
    for (let i = 0; i < 9; i++) answers.push(await infer(lb));
    for (let i = 0; i < 3; i++) answers.push(await infer(lb, `batch-${i}`));
    const r = await feedback(lb, { feedback: answers.map((a) => ({ id: a.id, label: a.label })) });
    t.equal(r.status, 200, JSON.stringify(r.body));
    t.same((r.body.accepted as { id: string }[]).map((x) => x.id), answers.map((a) => a.id));
    given += answers.length;

    // A bad item held here fails the whole call before anything is forwarded.
    const more = [await infer(lb), await infer(lb), await infer(lb)];
    const bad = await feedback(lb, { feedback: [...more.map((a) => ({ id: a.id, label: a.label })), { id: 'never-given', label: 1 }] });
    t.equal(bad.status, 404);
    t.equal(bad.body.code, 'SLUICE_E_FEEDBACK_UNKNOWN_ID');
    const again = await feedback(lb, { feedback: more.map((a) => ({ id: a.id, label: a.label })) });
    t.equal(again.status, 200, 'nothing of the refused batch was applied anywhere');
    given += more.length;

    // A peer refuses its group: the local group is applied, the answer says which items failed and lists what was accepted.
    const here = [await infer(direct[0]!), await infer(direct[0]!)];
    const there = await infer(direct[1]!);
    t.equal((await feedback(direct[1]!, { id: there.id, label: there.label })).status, 200);
    given += 1;
    const mixed = await feedback(direct[0]!, { feedback: [{ id: here[0]!.id, label: here[0]!.label }, { id: there.id, label: there.label }, { id: here[1]!.id, label: here[1]!.label }] });
    t.equal(mixed.status, 409, JSON.stringify(mixed.body));
    t.equal(mixed.body.code, 'SLUICE_E_FEEDBACK_DUPLICATE', 'the peer\'s code');
    t.same(mixed.body.details, { peer: 'gw-1', items: [1] });
    t.same((mixed.body.accepted as { id: string }[]).map((x) => x.id), [here[0]!.id, here[1]!.id], 'the local group was applied');
    given += here.length;
    const resent = await feedback(direct[0]!, { feedback: [{ id: here[0]!.id, label: here[0]!.label }, { id: there.id, label: there.label }] });
    t.equal(resent.body.code, 'SLUICE_E_FEEDBACK_DUPLICATE', 'sent again: refused, nothing counted twice');
  });

  await t.test('a WebSocket feedback frame is forwarded like an HTTP call', async (t) => {
    const answers: Answer[] = [];
    for (let i = 0; i < 6; i++) answers.push(await infer(lb));
    const client = await SluiceWsClient.connect(lb, { token: secret });
    t.teardown(() => client.close());
    const one = await client.feedback('weather', { id: answers[0]!.id, label: answers[0]!.label });
    t.match(one.accepted, [{ id: answers[0]!.id, correct: 1 }]);
    const rest = await client.feedback('weather', answers.slice(1).map((a) => ({ id: a.id, label: a.label })));
    t.same(rest.accepted.map((x) => x.id), answers.slice(1).map((a) => a.id));
    given += answers.length;
  });

  await t.test('the gateways\' feedback counters add up to every answer given feedback', async (t) => {
    let counted = 0;
    for (const base of direct) {
      const text = await (await fetch(`${base}/metrics`, { headers: auth })).text();
      for (const m of text.matchAll(/^sluice_feedback_total\{model="weather",version="1",outcome="(?:correct|wrong)"\} (\d+)/gm)) counted += Number(m[1]);
    }
    t.equal(counted, given);
  });

  await t.test('a forwarded call is answered where it lands, never forwarded again', async (t) => {
    const a = await infer(direct[1]!);
    const c = await infer(direct[1]!, 'loop-1');
    for (const id of [a.id, c.id]) {
      const r = await feedback(direct[0]!, { id, label: 1 }, { [FORWARDED_HEADER]: 'gw-2' });
      t.equal(r.status, 404, id);
      t.equal(r.body.code, 'SLUICE_E_FEEDBACK_UNKNOWN_ID', id);
    }
  });

  await t.test('a killed gateway: feedback for its answers is refused with a code, the others stay up', async (t) => {
    const made = await infer(direct[2]!);
    const kept = await infer(direct[2]!, 'order-dead-1');
    gateways[2]!.proc.kill('SIGKILL');
    await gateways[2]!.exited;
    const forwarded = await feedback(direct[0]!, { id: made.id, label: made.label });
    t.equal(forwarded.status, 503);
    t.equal(forwarded.body.code, 'SLUICE_E_FEEDBACK_PEER_UNAVAILABLE');
    t.ok(Number(forwarded.retryAfter) > 0, 'with Retry-After');
    const asked = await feedback(direct[1]!, { id: kept.id, label: kept.label });
    t.equal(asked.status, 503, 'a caller id nobody reachable holds, while a peer is down: cannot say unknown');
    t.equal(asked.body.code, 'SLUICE_E_FEEDBACK_PEER_UNAVAILABLE');
    const viaNginx = await feedback(lb, { id: made.id, label: made.label });
    t.equal(viaNginx.body.code, 'SLUICE_E_FEEDBACK_PEER_UNAVAILABLE', 'through nginx too');
    for (const base of direct.slice(0, 2)) t.equal((await fetch(`${base}/v2/health/live`)).status, 200, `${base} is up`);
    t.equal(gateways[0]!.proc.exitCode, null);
    t.equal(gateways[1]!.proc.exitCode, null);
    const local = await infer(lb);
    t.equal((await feedback(lb, { id: local.id, label: local.label })).status, 200, 'feedback for the live gateways\' answers still works');
  });
});
