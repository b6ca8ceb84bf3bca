import t from 'tap';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { alerts, createRule, gateway, tick, weatherInProduction, window } from './alert-helpers.js';
import { eventually } from '../helpers/wait.js';
import { startTestControlPlane, stopPostgres, type TestControlPlane } from './harness.js';

t.teardown(stopPostgres);

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
  raw: string;
}

/** A local HTTP receiver: each path answers the statuses planned for it in turn, then 200. */
async function receiver(t: Tap, plan: Record<string, number[]> = {}) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: JSON.parse(raw), raw });
      const status = plan[path]?.shift() ?? 200;
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, at: (path: string) => received.filter((r) => r.path === path) };
}

type Tap = Parameters<typeof startTestControlPlane>[0];

const SECRET = 'a-shared-secret-of-some-length';
const DELIVERIES = '{ webhooks { name kind signed deliveries { event state attempts lastStatus lastError } } }';

async function webhook(cp: TestControlPlane, input: Record<string, unknown>) {
  const r = await cp.gql('mutation($input: WebhookInput!) { createWebhook(input: $input) { name kind signed } }', { input });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.createWebhook;
}

async function deliveries(cp: TestControlPlane): Promise<Record<string, any[]>> {
  const r = await cp.gql(DELIVERIES);
  return Object.fromEntries(r.data.webhooks.map((w: any) => [w.name, w.deliveries]));
}

const code = (r: any) => r.errors?.[0]?.extensions?.code;

t.test('firing and resolved events reach generic, Slack and PagerDuty targets once each, with retries and backoff after 500s', async (t) => {
  const rx = await receiver(t, { '/generic': [500, 500] });
  const cp = await startTestControlPlane(t, 'sqlite', { alertIntervalMs: 0, webhookDelivery: { backoffMs: 1000, maxAttempts: 5, timeoutMs: 5000 } });
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  t.same(await webhook(cp, { name: 'generic', url: `${rx.url}/generic`, secret: SECRET }), { name: 'generic', kind: 'GENERIC', signed: true });
  await webhook(cp, { name: 'slack', url: `${rx.url}/slack`, kind: 'SLACK' });
  await webhook(cp, { name: 'pd', url: `${rx.url}/pd`, kind: 'PAGERDUTY', routingKey: 'R0UTINGKEY123' });
  await createRule(cp, { name: 'drift-temp', metric: 'drift_psi', feature: 'temp_max', threshold: 0.25, severity: 'CRITICAL', webhooks: ['generic', 'slack', 'pd'], labels: [{ key: 'team', value: 'forecast' }] });
  const at = (await gw.report([window({ drift: [{ feature: 'temp_max', rows: 400, psi: 0.5, level: 'alert' }] })])) + 1;

  await tick(cp, at);
  const [alert] = await alerts(cp, 'FIRING');
  t.same([rx.at('/generic').length, rx.at('/slack').length, rx.at('/pd').length], [1, 1, 1], 'each target was tried at once');
  let d = await deliveries(cp);
  t.match(d.generic, [{ event: 'firing', state: 'PENDING', attempts: 1, lastStatus: 500, lastError: 'HTTP 500' }], 'a 500 leaves the event pending');
  t.match(d.slack, [{ event: 'firing', state: 'DELIVERED', attempts: 1, lastStatus: 200 }]);
  await tick(cp, at + 999);
  t.equal(rx.at('/generic').length, 1, 'not retried before its backoff (1 s)');
  await tick(cp, at + 1000);
  t.equal(rx.at('/generic').length, 2, 'retried after 1 s');
  await tick(cp, at + 2999);
  t.equal(rx.at('/generic').length, 2, 'the next wait is doubled (2 s)');
  await tick(cp, at + 3000);
  t.equal(rx.at('/generic').length, 3);
  d = await deliveries(cp);
  t.match(d.generic, [{ event: 'firing', state: 'DELIVERED', attempts: 3, lastStatus: 200, lastError: null }], 'delivered at the third attempt');
  for (let i = 1; i <= 3; i++) await tick(cp, at + 3000 + i * 10_000);
  t.same([rx.at('/generic').length, rx.at('/slack').length, rx.at('/pd').length], [3, 1, 1], 'later evaluations of the same firing alert send nothing more');

  const generic = rx.at('/generic')[2]!;
  t.match(generic.body, {
    status: 'firing',
    alert: { id: alert.id, fingerprint: alert.fingerprint, rule: 'drift-temp', model: 'weather', version: 1, metric: 'drift_psi', feature: 'temp_max', severity: 'critical', state: 'firing', value: 0.5, comparison: '>', threshold: 0.25, labels: { team: 'forecast' } },
  });
  const expected = createHmac('sha256', SECRET).update(`${generic.headers['x-sluice-timestamp']}.${generic.raw}`).digest('hex');
  t.equal(generic.headers['x-sluice-signature'], `sha256=${expected}`, 'the body is signed with the secret');
  t.equal(generic.headers['x-sluice-event'], 'firing');
  t.equal(rx.at('/generic')[0]!.headers['x-sluice-delivery'], generic.headers['x-sluice-delivery'], 'a retry carries the same delivery id');
  t.equal(rx.at('/slack')[0]!.headers['x-sluice-signature'], undefined, 'unsigned targets get no signature');
  const slack = rx.at('/slack')[0]!.body;
  t.match(slack, { text: /^\[FIRING\] drift-temp: weather v1 drift_psi\[temp_max\] = 0\.5 > 0\.25/, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: /FIRING/ } }, { type: 'context', elements: [{ type: 'mrkdwn' }] }] }, "Slack's incoming-webhook shape");
  const pd = rx.at('/pd')[0]!.body;
  t.match(pd, { routing_key: 'R0UTINGKEY123', event_action: 'trigger', dedup_key: alert.fingerprint, payload: { summary: /drift-temp/, severity: 'critical', source: 'sluice/weather/v1' } }, 'a PagerDuty Events v2 trigger');

  await tick(cp, at + 400_000);
  t.same([rx.at('/generic').length, rx.at('/slack').length, rx.at('/pd').length], [4, 2, 2], 'one resolved event each');
  t.match(rx.at('/generic')[3]!.body, { status: 'resolved', alert: { id: alert.id, state: 'resolved', resolvedAt: new Date(at + 400_000).toISOString() } });
  t.match(rx.at('/slack')[1]!.body, { text: /^\[RESOLVED\]/ });
  t.match(rx.at('/pd')[1]!.body, { event_action: 'resolve', dedup_key: alert.fingerprint }, 'PagerDuty resolves the incident it opened');
  const [resolved] = await alerts(cp, 'RESOLVED');
  t.same(resolved.deliveries.map((x: any) => `${x.event}:${x.state}`).sort(), ['firing:DELIVERED', 'firing:DELIVERED', 'firing:DELIVERED', 'resolved:DELIVERED', 'resolved:DELIVERED', 'resolved:DELIVERED']);
  const metrics = await (await fetch(`${cp.url}/metrics`)).text();
  t.match(metrics, 'sluice_webhook_deliveries_total{outcome="delivered"} 6');
  t.match(metrics, 'sluice_webhook_deliveries_total{outcome="retry"} 2');
});

t.test('a target that keeps failing is given up after maxAttempts; one that refuses connections too', async (t) => {
  const rx = await receiver(t, { '/down': [503, 503, 503, 503] });
  const cp = await startTestControlPlane(t, 'sqlite', { alertIntervalMs: 0, webhookDelivery: { backoffMs: 1000, maxAttempts: 3, timeoutMs: 2000 } });
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  await webhook(cp, { name: 'down', url: `${rx.url}/down` });
  await webhook(cp, { name: 'closed', url: 'http://127.0.0.1:9/' });
  await createRule(cp, { name: 'errors', metric: 'error_rate', threshold: 0.1, minCount: 10, webhooks: ['down', 'closed'] });
  const at = (await gw.report([window({ calls: 10, errors: 5 })])) + 1;
  for (const offset of [0, 1000, 3000, 7000, 15_000]) await tick(cp, at + offset);
  t.equal(rx.at('/down').length, 3, 'three attempts, then no more');
  const d = await deliveries(cp);
  t.match(d.down, [{ state: 'FAILED', attempts: 3, lastStatus: 503 }]);
  t.match(d.closed, [{ state: 'FAILED', attempts: 3, lastStatus: null, lastError: /could not connect/ }]);
  t.match(await (await fetch(`${cp.url}/metrics`)).text(), 'sluice_webhook_deliveries_total{outcome="failed"} 2');
});

t.test('a resolved event waits for its firing event to be delivered to the same target', async (t) => {
  const rx = await receiver(t, { '/hook': [500] });
  const cp = await startTestControlPlane(t, 'sqlite', { alertIntervalMs: 0, webhookDelivery: { backoffMs: 1_000_000, maxBackoffMs: 1_000_000 } });
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  await webhook(cp, { name: 'hook', url: `${rx.url}/hook` });
  await createRule(cp, { name: 'errors', metric: 'error_rate', threshold: 0.1, minCount: 10, webhooks: ['hook'] });
  const at = (await gw.report([window({ calls: 10, errors: 5 })])) + 1;
  await tick(cp, at);
  await tick(cp, at + 400_000);
  t.same(rx.at('/hook').map((r) => r.body.status), ['firing'], 'the resolved event is held while the firing one waits for its retry');
  t.equal((await alerts(cp, 'RESOLVED')).length, 1, 'the alert itself resolved');
  await tick(cp, at + 1_000_000);
  t.same(rx.at('/hook').map((r) => r.body.status), ['firing', 'firing', 'resolved'], 'then both, in order');
});

t.test('a restarted control plane resumes the deliveries its outbox holds', async (t) => {
  const rx = await receiver(t, { '/hook': [500] });
  const options = { alertIntervalMs: 0, webhookDelivery: { backoffMs: 1000 } };
  const first = await startTestControlPlane(t, 'sqlite', options);
  await weatherInProduction(first);
  const gw = await gateway(first, 'edge-1');
  await webhook(first, { name: 'hook', url: `${rx.url}/hook` });
  await createRule(first, { name: 'errors', metric: 'error_rate', threshold: 0.1, minCount: 10, webhooks: ['hook'] });
  const at = (await gw.report([window({ calls: 10, errors: 5 })])) + 1;
  await tick(first, at);
  t.equal(rx.at('/hook').length, 1);
  await first.close();
  const second = await startTestControlPlane(t, 'sqlite', { ...options, dataDir: first.dataDir });
  await tick(second, at + 1000);
  t.equal(rx.at('/hook').length, 2, 'the new process sent the pending event');
  t.match((await deliveries(second)).hook, [{ state: 'DELIVERED', attempts: 2 }]);
  t.equal((await alerts(second, 'FIRING')).length, 1, 'and still knows the alert is firing');
});

t.test('bad webhooks are refused with SLUICE_E_WEBHOOK_INVALID naming the field; a webhook in use is not deleted', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite', { alertIntervalMs: 0 });
  await weatherInProduction(cp);
  const cases: [string, Record<string, unknown>, string][] = [
    ['a bad name', { name: 'a b', url: 'http://x.test/' }, 'name'],
    ['a URL that is not one', { name: 'w', url: 'not a url' }, 'url'],
    ['a non-HTTP URL', { name: 'w', url: 'file:///etc/passwd' }, 'url'],
    ['credentials in the URL', { name: 'w', url: 'http://user:pw@x.test/' }, 'url'],
    ['a short secret', { name: 'w', url: 'http://x.test/', secret: 'short' }, 'secret'],
    ['PagerDuty without a routing key', { name: 'w', url: 'http://x.test/', kind: 'PAGERDUTY' }, 'routingKey'],
    ['a routing key on a generic hook', { name: 'w', url: 'http://x.test/', routingKey: 'abcdefgh12' }, 'routingKey'],
  ];
  for (const [what, input, field] of cases) {
    const r = await cp.gql('mutation($input: WebhookInput!) { createWebhook(input: $input) { id } }', { input });
    t.same([code(r), r.errors?.[0]?.extensions?.details?.field], ['SLUICE_E_WEBHOOK_INVALID', field], what);
  }
  await webhook(cp, { name: 'w', url: 'http://x.test/' });
  const dup = await cp.gql('mutation { createWebhook(input: { name: "w", url: "http://y.test/" }) { id } }');
  t.equal(code(dup), 'SLUICE_E_WEBHOOK_INVALID', 'a second webhook of the same name');
  await createRule(cp, { name: 'r', metric: 'error_rate', threshold: 0.1, minCount: 1, webhooks: ['w'] });
  t.equal(code(await cp.gql('mutation { deleteWebhook(name: "w") }')), 'SLUICE_E_WEBHOOK_INVALID', 'a rule still sends to it');
  await cp.gql('mutation { updateAlertRule(name: "r", patch: { webhooks: [] }) { name } }');
  t.equal((await cp.gql('mutation { deleteWebhook(name: "w") }')).data.deleteWebhook, true);
  t.equal(code(await cp.gql('mutation { deleteWebhook(name: "w") }')), 'SLUICE_E_ALERT_NOT_FOUND');
  await webhook(cp, { name: 'slack-secret', url: 'https://hooks.slack.test/services/T000/B000/XXXXSECRET', kind: 'SLACK' });
  const created = await cp.gql('{ auditEvents(filter: { resource: "webhook/slack-secret" }) { edges { node { after } } } }');
  t.equal(created.data.auditEvents.edges[0].node.after.url, 'https://hooks.slack.test/…', 'the audit log keeps only the origin of a webhook URL');
  const audit = await cp.gql('{ auditEvents(first: 50, filter: { resource: "webhook/w" }) { edges { node { action outcome } } } }');
  t.same(audit.data.auditEvents.edges.map((e: any) => `${e.node.action}:${e.node.outcome}`).reverse().slice(-5), [
    'webhook.create:SUCCESS',
    'webhook.create:FAILED',
    'webhook.delete:FAILED',
    'webhook.delete:SUCCESS',
    'webhook.delete:FAILED',
  ]);
});

t.test('on PostgreSQL the leader delivers, retries and resolves through the same outbox', async (t) => {
  const rx = await receiver(t, { '/hook': [500] });
  const cp = await startTestControlPlane(t, 'postgres', { alertIntervalMs: 0, webhookDelivery: { backoffMs: 1000 } });
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  await webhook(cp, { name: 'hook', url: `${rx.url}/hook`, kind: 'PAGERDUTY', routingKey: 'R0UTINGKEY123' });
  await createRule(cp, { name: 'errors', metric: 'error_rate', threshold: 0.1, minCount: 10, webhooks: ['hook'] });
  const at = (await gw.report([window({ calls: 10, errors: 5 })])) + 1;
  await eventually('the replica leads', async () => (await cp.server.alertEvaluator.tick(new Date(at))) ?? undefined, 20_000);
  await tick(cp, at + 1000);
  await tick(cp, at + 400_000);
  t.same(rx.at('/hook').map((r) => r.body.event_action), ['trigger', 'trigger', 'resolve']);
  t.match((await deliveries(cp)).hook, [{ event: 'resolved', state: 'DELIVERED', attempts: 1 }, { event: 'firing', state: 'DELIVERED', attempts: 2, lastStatus: 200 }]);
});
