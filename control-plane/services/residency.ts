// Data residency (issue 18): a model may name the regions it may be served and trained in (null:
// anywhere). Gateways carry a region (registerGateway); runners name theirs when they claim. What
// follows from a model's regions:
//  - the desired state of a gateway outside them never names the model (desired-state.ts);
//  - its artifacts are not handed to such a gateway's token (GET /artifacts/<sha256>): refused with
//    SLUICE_E_RESIDENCY_REFUSED and audited as denied;
//  - its training jobs are claimed only by runners in one of its regions (training-runs.ts).
// A region is matched exactly (`eu` is not `eu-west`); a gateway or runner without a region is
// outside every restricted model.
import { SluiceError } from '../../lib/errors.js';
import type { Store } from '../store/db.js';
import type { CallContext } from './actor.js';
import type { AuditLog } from './audit.js';

const REGION = /^[a-z0-9][a-z0-9-]{0,63}$/;
const MAX_REGIONS = 32;

/** Whether a model with `allowed` regions may be served or trained in `region`. */
export function regionAllows(allowed: readonly string[] | null, region: string | null | undefined): boolean {
  return allowed === null || (region !== undefined && region !== null && allowed.includes(region));
}

export function parseAllowedRegions(column: string | null | undefined): string[] | null {
  return column === null || column === undefined ? null : (JSON.parse(column) as string[]);
}

export class ResidencyService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly changed: () => void,
  ) {}

  /** The regions of `model`; null: anywhere. */
  async regionsOf(model: string): Promise<string[] | null> {
    const row = await this.store.db.selectFrom('models').select('allowed_regions').where('name', '=', model).executeTakeFirst();
    if (!row) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no model ${model}`, { details: { model } });
    return parseAllowedRegions(row.allowed_regions);
  }

  /** Restrict `model` to `regions` (null lifts the restriction); audited with before and after. */
  async setRegions(ctx: CallContext, model: string, regions: readonly string[] | null): Promise<string[] | null> {
    const after = regions === null ? null : checkRegions(regions);
    const result = await this.audit.audited(ctx, 'model.set_regions', `model/${model}`, async (tx) => {
      const row = await this.store.forUpdate(tx.selectFrom('models').select(['id', 'allowed_regions']).where('name', '=', model)).executeTakeFirst();
      if (!row) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no model ${model}`, { details: { model } });
      await tx.updateTable('models').set({ allowed_regions: after === null ? null : JSON.stringify(after) }).where('id', '=', row.id).execute();
      return { result: after, before: { allowedRegions: parseAllowedRegions(row.allowed_regions) }, after: { allowedRegions: after } };
    });
    this.changed();
    return result;
  }

  /**
   * Refuse (audited) a download of `sha256` by a gateway in `region` when every model that uses
   * those bytes is kept out of that region. Bytes shared with a model allowed there may be fetched.
   */
  async checkDownload(ctx: CallContext, sha256: string, region: string | null): Promise<void> {
    const rows = await this.store.db
      .selectFrom('model_versions')
      .innerJoin('models', 'models.id', 'model_versions.model_id')
      .select(['models.name as model', 'models.allowed_regions as allowed_regions'])
      .where((eb) => eb.or([eb('model_versions.artifact_sha256', '=', sha256), eb('model_versions.config_sha256', '=', sha256), eb('model_versions.profile_sha256', '=', sha256)]))
      .execute();
    if (rows.length === 0 || rows.some((r) => regionAllows(parseAllowedRegions(r.allowed_regions), region))) return;
    const models = [...new Set(rows.map((r) => r.model))].sort();
    await this.audit.record(ctx, { action: 'artifact.download', resource: `artifact/${sha256}`, outcome: 'denied', reason: `residency: ${models.join(', ')} not allowed in region "${region ?? ''}"` });
    throw new SluiceError('SLUICE_E_RESIDENCY_REFUSED', `artifact ${sha256} belongs to ${models.join(', ')}, which may not be served in region "${region ?? ''}"`, {
      details: { sha256, region, models },
    });
  }
}

function checkRegions(regions: readonly string[]): string[] {
  if (regions.length > MAX_REGIONS) throw new SluiceError('SLUICE_E_RESIDENCY_INVALID', `at most ${MAX_REGIONS} regions`, { details: { field: 'regions' } });
  const bad = regions.find((r) => !REGION.test(r));
  if (bad !== undefined) {
    throw new SluiceError('SLUICE_E_RESIDENCY_INVALID', `region "${bad}" must be 1-64 of lower-case letters, digits and "-"`, { details: { field: 'regions', region: bad } });
  }
  return [...new Set(regions)].sort();
}
