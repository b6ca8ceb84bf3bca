// What a gateway should serve, computed from the registry: per model, the versions to load (each with
// its digest, size and registry signature), the aliases resolved to version numbers, and the routing
// table. Serving follows aliases and rollouts only (separation of duties: whoever may upload a
// version must not thereby deploy it): without a rollout the routing is one route with all the
// weight on the `production` alias, and a model with no `production` alias has no route at all
// (gateways answer SLUICE_E_MODEL_NOT_ROUTED to calls by name). Versions to load are the route's
// plus every other alias target (so `staging` can be called by version number); a version no alias
// or rollout names is loaded nowhere. A model with an active rollout routes by the rollout
// (services/rollouts.ts) and loads both its stable version and its candidate, with the plan the
// gateways apply (sticky split, mirroring). Every model with a ready version is listed, so gateways
// can tell "not routed" from "no such model". A gateway's own state leaves out the models its region
// is kept out of (residency.ts) and those whose placement does not select it (placement.ts).
import { createHash } from 'node:crypto';
import type { Store } from '../store/db.js';
import type { TensorSignature } from './onnx-signature.js';
import type { RolloutStrategy, WireAccessToken, WireDesiredVersion, WireRolloutPlan, WireVersionFile } from '../../lib/sync-wire.js';
import type { RolloutTable } from '../store/tables.js';
import type { RolloutSpec } from './rollout-spec.js';
import { parseAllowedRegions, regionAllows } from './residency.js';
import { parsePlacement, selectorAllows, type PlacedGateway } from './placement.js';

export const DEFAULT_ALIAS = 'production';

/** A version file with its download path under the control plane's URL; resolvers make it absolute. */
export type DesiredFile = Omit<WireVersionFile, 'downloadUrl'> & { downloadPath: string };

/** A version as lib/sync-wire.ts presents it, with paths where the wire has URLs. */
export interface DesiredVersion extends Omit<WireDesiredVersion, 'downloadUrl' | 'files'> {
  downloadPath: string;
  files: DesiredFile[];
  tensors: TensorSignature;
}

export interface Route {
  version: number;
  weight: number;
}

export interface DesiredModel {
  name: string;
  versions: DesiredVersion[];
  aliases: { name: string; version: number }[];
  routes: Route[];
  rollout: WireRolloutPlan | null;
}

export interface DesiredState {
  /** Changes whenever anything a gateway acts on changes; equal revisions mean nothing to do. */
  revision: string;
  models: DesiredModel[];
  /** The live tokens with gateway scopes (issue 17): creating or revoking one changes the revision. */
  access: { tokens: WireAccessToken[] };
}

interface VersionRow {
  model: string;
  number: number | string;
  sha256: string;
  size: number | string;
  artifact_signature: string;
  key_id: string;
  tensors: string;
  statement: string | null;
  statement_signature: string | null;
  config_sha256: string | null;
  config_size: number | string | null;
  profile_sha256: string | null;
  profile_size: number | string | null;
  allowed_regions?: string | null;
  placement?: string | null;
}

/**
 * `accessTokens`: the gateway tokens pushed with the state (gateway/access). `gateway`: the state of
 * that gateway, without the models kept out of its region (residency.ts) or not placed on it
 * (placement.ts); undefined: every model (what people see).
 */
export async function computeDesiredState(store: Store, accessTokens: WireAccessToken[] = [], gateway?: PlacedGateway): Promise<DesiredState> {
  const db = store.db;
  const base = db
    .selectFrom('model_versions')
    .innerJoin('models', 'models.id', 'model_versions.model_id')
    .innerJoin('artifacts', 'artifacts.sha256', 'model_versions.artifact_sha256')
    .leftJoin('artifacts as config', 'config.sha256', 'model_versions.config_sha256')
    .leftJoin('artifacts as profile', 'profile.sha256', 'model_versions.profile_sha256')
    .select([
      'model_versions.statement as statement',
      'model_versions.statement_signature as statement_signature',
      'config.sha256 as config_sha256',
      'config.size as config_size',
      'profile.sha256 as profile_sha256',
      'profile.size as profile_size',
      'models.name as model',
      'model_versions.number as number',
      'artifacts.sha256 as sha256',
      'artifacts.size as size',
      'artifacts.signature as artifact_signature',
      'artifacts.key_id as key_id',
      'model_versions.signature as tensors',
      'models.allowed_regions as allowed_regions',
      'models.placement as placement',
    ])
    .where('model_versions.status', '=', 'ready');
  const aliased = await base
    .innerJoin('aliases', 'aliases.version_id', 'model_versions.id')
    .select('aliases.name as alias')
    .execute();
  const registered = await db
    .selectFrom('model_versions')
    .innerJoin('models', 'models.id', 'model_versions.model_id')
    .select(['models.name as model', 'models.allowed_regions as allowed_regions', 'models.placement as placement'])
    .where('model_versions.status', '=', 'ready')
    .distinct()
    .execute();

  const models = new Map<string, { versions: Map<number, DesiredVersion>; aliases: { name: string; version: number }[] }>();
  const entry = (name: string) => {
    let m = models.get(name);
    if (!m) models.set(name, (m = { versions: new Map(), aliases: [] }));
    return m;
  };
  const excluded = new Set<string>();
  /** model → its placement, for the revision of what people see (a placement change must change it). */
  const placements = new Map<string, string | null>();
  const exclude = (r: { model: string; allowed_regions?: string | null; placement?: string | null }) => {
    placements.set(r.model, r.placement ?? null);
    if (gateway === undefined) return;
    if (!regionAllows(parseAllowedRegions(r.allowed_regions), gateway.region) || !selectorAllows(parsePlacement(r.placement), gateway)) excluded.add(r.model);
  };
  const add = (r: VersionRow) => {
    exclude(r);
    const m = entry(r.model);
    const version = Number(r.number);
    const files: DesiredFile[] = [{ name: 'model.onnx', sha256: r.sha256, size: Number(r.size), downloadPath: `/artifacts/${r.sha256}` }];
    if (r.config_sha256) files.push({ name: 'config.json', sha256: r.config_sha256, size: Number(r.config_size), downloadPath: `/artifacts/${r.config_sha256}` });
    if (r.profile_sha256) files.push({ name: 'profile.json', sha256: r.profile_sha256, size: Number(r.profile_size), downloadPath: `/artifacts/${r.profile_sha256}` });
    m.versions.set(version, {
      version,
      sha256: r.sha256,
      size: Number(r.size),
      signature: r.artifact_signature,
      keyId: r.key_id,
      downloadPath: `/artifacts/${r.sha256}`,
      tensors: JSON.parse(r.tensors) as TensorSignature,
      statement: r.statement ?? '',
      statementSignature: r.statement_signature ?? '',
      files,
    });
    return version;
  };
  for (const r of registered) {
    exclude(r);
    entry(r.model);
  }
  for (const r of aliased) entry(r.model).aliases.push({ name: r.alias, version: add(r) });
  const rollouts = new Map<string, RolloutTable>();
  for (const r of await db.selectFrom('rollouts').selectAll().where('active_model', 'is not', null).execute()) rollouts.set(r.model, r);
  if (rollouts.size > 0) {
    const pairs = [...rollouts.values()].flatMap((r) => [[r.model_id, Number(r.stable)], [r.model_id, Number(r.candidate)]] as const);
    const rows = await base.where((eb) => eb.or(pairs.map(([id, n]) => eb.and([eb('model_versions.model_id', '=', id), eb('model_versions.number', '=', n)])))).execute();
    for (const r of rows) if (!entry(r.model).versions.has(Number(r.number))) add(r);
  }

  const out: DesiredModel[] = [...models.entries()]
    .filter(([name]) => !excluded.has(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, m]) => {
      const aliases = m.aliases.sort((a, b) => (a.name < b.name ? -1 : 1));
      const versions = [...m.versions.values()].sort((a, b) => a.version - b.version);
      const rollout = rollouts.get(name);
      if (rollout) return { name, versions, aliases, ...rolloutRouting(rollout) };
      const target = aliases.find((a) => a.name === DEFAULT_ALIAS)?.version;
      return { name, versions, aliases, routes: target === undefined ? [] : [{ version: target, weight: 100 }], rollout: null };
    });
  const access = { tokens: accessTokens };
  const hash = createHash('sha256').update(JSON.stringify(out)).update(JSON.stringify(access));
  // People's view lists every model whatever its placement; its revision still moves when one
  // changes, so replicas' resync (loops/change-feed.ts) fans a missed placement change out.
  if (gateway === undefined && [...placements.values()].some((p) => p !== null)) hash.update(JSON.stringify([...placements.entries()].sort()));
  const revision = hash.digest('hex').slice(0, 16);
  return { revision, models: out, access };
}

/** The routes and plan of a model under an active rollout (`weight` is the candidate's share). */
function rolloutRouting(r: RolloutTable): { routes: Route[]; rollout: WireRolloutPlan } {
  const spec = JSON.parse(r.spec) as RolloutSpec;
  const strategy = r.strategy as RolloutStrategy;
  const weight = Number(r.weight);
  const stable = Number(r.stable);
  const candidate = Number(r.candidate);
  return {
    routes: [
      { version: stable, weight: 100 - weight },
      { version: candidate, weight },
    ],
    rollout: {
      id: r.id,
      strategy,
      stable,
      candidate,
      sticky: strategy === 'AB',
      // BLUE_GREEN mirrors stable's calls on the candidate only before the switch (pre-promotion analysis).
      mirrorShare: strategy === 'CANARY' || strategy === 'SHADOW' || (strategy === 'BLUE_GREEN' && r.phase !== 'SWITCHED') ? spec.mirrorShare : 0,
      agreementTolerance: spec.agreementTolerance,
    },
  };
}
