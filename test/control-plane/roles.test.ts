import t from 'tap';
import { PERMISSIONS, type Permission } from '../../control-plane/services/permissions.js';
import { ADMIN_TOKEN, dialects, exampleOnnx, modelWithVersion, startTestControlPlane, stopPostgres, type TestControlPlane } from './harness.js';

t.teardown(stopPostgres);

type RoleName = 'viewer' | 'developer' | 'operator' | 'admin' | 'gateway';
const ROLES: RoleName[] = ['viewer', 'developer', 'operator', 'admin', 'gateway'];

interface Operation {
  action: string;
  permission: Permission;
  /** Returns the error code, or undefined on success. */
  run(cp: TestControlPlane, token: string, role: RoleName): Promise<string | undefined>;
}

const gqlOp = (action: string, permission: Permission, query: string, variables: (role: RoleName) => Record<string, unknown> = () => ({})): Operation => ({
  action,
  permission,
  async run(cp, token, role) {
    const r = await cp.gql(query, variables(role), token);
    return r.errors?.[0]?.extensions?.code;
  },
});

const OPERATIONS: Operation[] = [
  gqlOp('model.list', 'registry:read', '{ models { edges { cursor } } }'),
  gqlOp('model.read', 'registry:read', '{ model(name: "weather") { name } }'),
  gqlOp('model.create', 'registry:write', 'mutation($n: String!) { createModel(input: { name: $n }) { id } }', (role) => ({ n: `model-of-${role}` })),
  gqlOp('model.update', 'registry:write', 'mutation { updateModel(input: { name: "weather", description: "x" }) { id } }'),
  {
    // A role that may upload nothing is refused from the headers, before the body (and so the
    // operation) is read: the denial is audited as `upload` (server/graphql-upload.ts).
    action: 'upload',
    permission: 'registry:write',
    async run(cp, token) {
      const r = (await cp.upload('weather', exampleOnnx('weather'), token, { allowDuplicate: true })) as { errors?: { extensions?: { code?: string } }[] };
      return r.errors?.[0]?.extensions?.code;
    },
  },
  gqlOp('alias.set', 'alias:write', 'mutation { setAlias(input: { model: "weather", alias: "staging", version: 1 }) { name } }'),
  gqlOp('gate.override', 'gate:override', 'mutation { setAlias(input: { model: "weather", alias: "staging", version: 1, gateOverride: "roles walk" }) { name } }'),
  gqlOp('gate.report.list', 'gate:read', '{ gateReports(model: "weather") { id } }'),
  gqlOp('gate.policy.read', 'gate:read', '{ promotionPolicy(model: "weather") { revision } }'),
  gqlOp('dataset.list', 'gate:read', '{ datasets(model: "weather") { name } }'),
  gqlOp('gate.evaluate', 'gate:run', 'mutation { evaluateGates(model: "weather", version: 1) { passed } }'),
  gqlOp('gate.policy.set', 'gate:policy', 'mutation { setPromotionPolicy(input: { model: "weather", policy: { dataset: "none" } }) { revision } }'),
  gqlOp('promotion.approve', 'promotion:approve', 'mutation { approvePromotion(input: { model: "weather", version: 1 }) { id } }'),
  gqlOp('dataset.create', 'dataset:write', 'mutation($n: String!) { registerDataset(input: { model: "weather", name: $n, csv: "a,label\\n1,rain\\n" }) { rows } }', (role) => ({ n: `data-of-${role}` })),
  gqlOp('retraining.read', 'retrain:read', '{ retrainingRuns(model: "weather") { id } }'),
  gqlOp('timeline.read', 'retrain:read', '{ modelTimeline(model: "weather") { kind } }'),
  gqlOp('retraining.policy.set', 'retrain:write', 'mutation { setRetrainingPolicy(model: "weather", policy: { training: { trainer: { builtin: "weather-mlp" }, dataset: { url: "/nonexistent.csv" } }, enabled: false }) { revision } }'),
  gqlOp('retraining.pause', 'retrain:write', 'mutation { pauseRetraining(model: "weather", reason: "roles walk") { paused } }'),
  gqlOp('token.create', 'token:admin', 'mutation($n: String!) { createToken(input: { name: $n, role: VIEWER }) { secret } }', (role) => ({ n: `made-by-${role}` })),
  gqlOp('token.list', 'token:admin', '{ tokens { edges { cursor } } }'),
  gqlOp('audit.read', 'audit:read', '{ auditEvents(first: 1) { edges { cursor } } }'),
  gqlOp('audit.verify', 'audit:read', '{ verifyAudit { ok } }'),
  gqlOp('gateway.list', 'gateway:read', '{ gateways { edges { cursor } } }'),
  gqlOp('model.fleet', 'gateway:read', '{ modelFleet(model: "weather") { model } }'),
  gqlOp('model.set_placement', 'placement:write', 'mutation { setModelPlacement(input: { model: "weather", selector: "pool=gpu" }) { name } }'),
  gqlOp('gateway.register', 'gateway:sync', 'mutation($n: String!) { registerGateway(input: { name: $n }) { id } }', (role) => ({ n: `gw-${role}` })),
  gqlOp('desired_state.read', 'desired-state:read', '{ desiredState { revision } }'),
  gqlOp('key.read', 'key:read', '{ registryPublicKey { keyId } }'),
  gqlOp('registry_key.rotate', 'key:rotate', 'mutation { rotateSigningKey(overlapSeconds: 60) { keyId } }'),
  gqlOp('alert.list', 'alert:read', '{ alerts { edges { cursor } } }'),
  gqlOp('model_version.record', 'registry:read', '{ modelVersionRecord(model: "weather", version: 1) { version } }'),
  gqlOp('alert-rule.list', 'alert:read', '{ alertRules { name } }'),
  gqlOp('alert-rule.create', 'alert:write', 'mutation($n: String!) { createAlertRule(input: { name: $n, model: "weather", metric: "error_rate", comparison: ">", threshold: 0.1, minCount: 10 }) { id } }', (role) => ({ n: `rule-of-${role}` })),
  gqlOp('webhook.create', 'alert:write', 'mutation($n: String!) { createWebhook(input: { name: $n, url: "http://127.0.0.1:9/" }) { id } }', (role) => ({ n: `hook-of-${role}` })),
  {
    action: 'artifact.download',
    permission: 'artifact:download',
    async run(cp, token) {
      const list = await cp.gql('{ modelVersion(model: "weather", version: 1) { artifact { downloadUrl } } }');
      const res = await fetch(list.data.modelVersion.artifact.downloadUrl, { headers: { authorization: `Bearer ${token}` } });
      const body = res.ok ? undefined : ((await res.json()) as { code: string });
      if (res.ok) await res.arrayBuffer();
      return body?.code;
    },
  },
];

for (const dialect of dialects()) {
  t.test(`roles on ${dialect}`, async (t) => {
    t.test('every role is refused exactly what its permissions exclude, and every refusal is audited', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await modelWithVersion(cp);
      const tokens: Record<RoleName, string> = { admin: ADMIN_TOKEN } as Record<RoleName, string>;
      for (const role of ROLES) if (role !== 'admin') tokens[role] = await cp.token(role);
      const expectedDenials: string[] = [];
      for (const role of ROLES) {
        for (const op of OPERATIONS) {
          const allowed = (PERMISSIONS[op.permission] as readonly string[]).includes(role);
          const code = await op.run(cp, tokens[role], role);
          if (allowed) t.not(code, 'SLUICE_E_AUTH_FORBIDDEN', `${role} may ${op.action}`);
          else {
            t.equal(code, 'SLUICE_E_AUTH_FORBIDDEN', `${role} may not ${op.action}`);
            expectedDenials.push(`${role === 'admin' ? 'admin' : `${role}-token`} ${role} ${op.action}`);
          }
        }
      }
      t.ok(expectedDenials.length > 20, 'the table refuses something to every role');
      const denials: string[] = [];
      let after: string | null = null;
      for (;;) {
        const r: any = await cp.gql(
          `query($after: String) { auditEvents(first: 100, after: $after, filter: { outcome: DENIED }) {
            edges { node { actorName role action reason requestId clientAddress } } pageInfo { hasNextPage endCursor } } }`,
          { after },
        );
        for (const e of r.data.auditEvents.edges) {
          denials.push(`${e.node.actorName} ${e.node.role} ${e.node.action}`);
          t.match(e.node.reason, /^needs /);
          t.ok(e.node.requestId && e.node.clientAddress, 'the denial names the request and the client');
        }
        if (!r.data.auditEvents.pageInfo.hasNextPage) break;
        after = r.data.auditEvents.pageInfo.endCursor;
      }
      t.same(denials.sort(), expectedDenials.sort());
    });

    t.test('a request without a token, with a malformed header or with a revoked token is refused with 401', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const res = await fetch(`${cp.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ me { name } }"}' });
      t.equal(res.status, 401);
      t.equal(((await res.json()) as any).errors[0].extensions.code, 'SLUICE_E_AUTH_MISSING');
      const malformed = await cp.gql('{ me { name } }', {}, '', { authorization: 'Basic abc' });
      t.equal(malformed.status, 401);
      t.equal(malformed.errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_INVALID');
      const unknown = await cp.gql('{ me { name } }', {}, 'sluice_not-a-real-token');
      t.equal(unknown.errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_INVALID');

      const created = await cp.gql('mutation { createToken(input: { name: "temp", role: VIEWER }) { secret token { id } } }');
      const { secret, token } = created.data.createToken;
      t.equal((await cp.gql('{ me { name role } }', {}, secret)).data.me.role, 'VIEWER');
      const revoked = await cp.gql('mutation($id: ID!) { revokeToken(input: { id: $id }) { revokedAt } }', { id: token.id });
      t.ok(revoked.data.revokeToken.revokedAt);
      t.equal((await cp.gql('{ me { name } }', {}, secret)).errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_INVALID');
      const download = await fetch(`${cp.url}/artifacts/${'0'.repeat(64)}`, { headers: { authorization: `Bearer ${secret}` } });
      t.equal(download.status, 401);
    });

    t.test('token secrets are stored only as hashes and listed without them', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const secret = await cp.token('operator', 'ops');
      const listed = await cp.gql('{ tokens { edges { node { name role revokedAt } } } }');
      t.same(listed.data.tokens.edges.map((e: any) => e.node.name).sort(), ['admin', 'ops']);
      const file = JSON.stringify(listed);
      t.notMatch(file, secret);
      const audit = await cp.gql('{ auditEvents(filter: { action: "token.create" }) { edges { node { after } } } }');
      t.notMatch(JSON.stringify(audit), secret, 'the audit log does not hold the secret');
      t.notMatch(JSON.stringify(audit), ADMIN_TOKEN);
    });
  });
}
