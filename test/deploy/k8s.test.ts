// The Kubernetes manifests (deploy/k8s/). No cluster runs here (kubectl's dry run needs an API
// server too), so these checks read the YAML: every document parses, has what its kind needs,
// and agrees with the sluice command it runs (flags, ports, health routes, drain timing, secrets).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CLI, ROOT } from '../helpers/paths.js';

const DIR = join(ROOT, 'deploy', 'k8s');
const API_VERSIONS: Record<string, string> = { Deployment: 'apps/v1', StatefulSet: 'apps/v1', Service: 'v1', Secret: 'v1', PersistentVolumeClaim: 'v1' };

type Doc = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any; stringData?: Record<string, string> };

function loadManifests(): { file: string; doc: Doc }[] {
  const out: { file: string; doc: Doc }[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
      out.push({ file, doc: d.toJS() as Doc });
    }
  }
  return out;
}

const manifests = loadManifests();
const byKind = (kind: string) => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);
const workloads = () => [...byKind('Deployment'), ...byKind('StatefulSet')];
const flagValue = (args: string[], flag: string) => args[args.indexOf(flag) + 1];
const helpOf = (command: string) => execFileSync(process.execPath, [CLI, command, '--help'], { encoding: 'utf8' });

t.test('every manifest parses and has the fields its kind needs (no cluster here: read, not applied)', async (t) => {
  t.ok(manifests.length >= 7, `${manifests.length} documents`);
  for (const { file, doc } of manifests) {
    const what = `${file}: ${doc.kind} ${doc.metadata?.name}`;
    t.equal(doc.apiVersion, API_VERSIONS[doc.kind], `${what}: a known kind with its apiVersion`);
    t.match(doc.metadata?.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${what}: a DNS-1123 name`);
  }
  for (const w of workloads()) {
    const labels = w.spec.template.metadata.labels as Record<string, string>;
    for (const [k, v] of Object.entries(w.spec.selector.matchLabels as Record<string, string>)) t.equal(labels[k], v, `${w.metadata.name}: the selector picks its own pods (${k})`);
    for (const c of w.spec.template.spec.containers) {
      t.type(c.image, 'string', `${w.metadata.name}/${c.name}: an image`);
      t.equal(c.securityContext?.allowPrivilegeEscalation, false, `${w.metadata.name}/${c.name}: no privilege escalation`);
      t.same(c.securityContext?.capabilities?.drop, ['ALL'], `${w.metadata.name}/${c.name}: no capabilities`);
    }
  }
});

t.test('each Service selects a workload and targets ports its containers name', async (t) => {
  for (const s of byKind('Service')) {
    const target = workloads().find((w) => Object.entries(s.spec.selector as Record<string, string>).every(([k, v]) => w.spec.template.metadata.labels[k] === v));
    t.ok(target, `Service ${s.metadata.name} selects a workload`);
    const ports = (target?.spec.template.spec.containers ?? []).flatMap((c: any) => c.ports ?? []) as { name: string; containerPort: number }[];
    for (const p of s.spec.ports) t.ok(ports.some((c) => c.name === p.targetPort || c.containerPort === p.targetPort), `Service ${s.metadata.name}: targetPort ${p.targetPort} is a container port`);
  }
});

t.test('the gateway Deployment matches the gateway command: flags, ports, readiness, drain', async (t) => {
  const gw = byKind('Deployment').find((d) => d.metadata.name === 'sluice-gateway')!;
  const c = gw.spec.template.spec.containers[0];
  t.equal(c.args[0], 'gateway');
  const help = helpOf('gateway');
  for (const a of c.args.filter((x: string) => x.startsWith('--'))) t.match(help, new RegExp(`^  ${a}[ <]`, 'm'), `${a} is a flag of sluice gateway`);
  const port = (name: string) => c.ports.find((p: { name: string }) => p.name === name).containerPort;
  t.equal(Number(flagValue(c.args, '--port')), port('http'), '--port is the http container port');
  t.equal(Number(flagValue(c.args, '--metrics-port')), port('metrics'), '--metrics-port is the metrics container port');
  t.same(c.readinessProbe.httpGet, { path: '/v2/health/ready', port: 'http' }, 'readiness is /v2/health/ready, which fails as soon as the drain starts');
  t.equal(c.livenessProbe.httpGet.path, '/v2/health/live');
  const drainSeconds = Number(flagValue(c.args, '--drain-timeout-ms')) / 1000;
  const preStop = c.lifecycle.preStop.sleep.seconds as number;
  t.ok(gw.spec.template.spec.terminationGracePeriodSeconds > preStop + drainSeconds, `grace ${gw.spec.template.spec.terminationGracePeriodSeconds} s > preStop ${preStop} s + drain ${drainSeconds} s`);
  t.equal(gw.spec.strategy.rollingUpdate.maxUnavailable, 0, 'a rollout never lowers the serving count');
  for (const e of c.env) if (e.name.startsWith('SLUICE_')) t.ok(help.includes(`[env ${e.name}]`), `sluice gateway reads ${e.name}`);
});

t.test('the control plane runs on PostgreSQL with its secrets in the environment, not in args', async (t) => {
  const cp = byKind('Deployment').find((d) => d.metadata.name === 'sluice-control-plane')!;
  const c = cp.spec.template.spec.containers[0];
  t.equal(c.args[0], 'control-plane');
  const help = helpOf('control-plane');
  for (const a of c.args.filter((x: string) => x.startsWith('--'))) t.match(help, new RegExp(`^  ${a}[ <]`, 'm'), `${a} is a flag of sluice control-plane`);
  t.equal(Number(flagValue(c.args, '--port')), c.ports.find((p: { name: string }) => p.name === 'http').containerPort);
  t.equal(c.readinessProbe.httpGet.path, '/health/ready');
  t.ok(cp.spec.replicas >= 2, 'more than one replica');
  const env = new Map<string, any>(c.env.map((e: { name: string }) => [e.name, e]));
  t.ok(env.has('SLUICE_DB'), 'the database URL comes from the environment of --db');
  for (const name of env.keys()) t.ok(help.includes(name), `sluice control-plane reads ${name}`);
  t.notOk(c.args.some((a: string) => /postgres:\/\//.test(a)), 'no database URL in args');
  const db = byKind('StatefulSet').find((s) => s.metadata.name === 'sluice-postgres');
  t.ok(db, 'a PostgreSQL StatefulSet (or an external database through the same secret)');
  t.equal(db!.spec.serviceName, 'sluice-postgres');
});

t.test('every secret a manifest reads is in the example Secret', async (t) => {
  const secret = byKind('Secret').find((s) => s.metadata.name === 'sluice-secrets')!;
  const refs = JSON.stringify(manifests.map((m) => m.doc)).matchAll(/"secretKeyRef":\{"name":"([^"]+)","key":"([^"]+)"\}/g);
  let n = 0;
  for (const [, name, key] of refs) {
    n++;
    t.equal(name, 'sluice-secrets');
    t.ok(key! in secret.stringData!, `key ${key}`);
  }
  t.ok(n >= 5, `${n} secret references`);
});
