// The model registry (MLflow's shape): registered models → numbered versions → aliases. Each write
// is one audited transaction; alias moves are a single UPDATE inside it, so a reader sees the old or
// the new target, never neither.
import { SluiceError } from '../../lib/errors.js';
import { isUniqueViolation, type Store, type Tx } from '../store/db.js';
import type { ModelTable, ModelVersionTable } from '../store/tables.js';
import type { CallContext } from './actor.js';
import type { AuditLog } from './audit.js';
import { newId, now } from './ids.js';
import { decodeCursor, decodeNumberCursor, pageSize, toConnection, type Connection, type PageArgs } from './pagination.js';
import type { TensorSignature } from './onnx-signature.js';
import type { PromotionGate } from './promotion-gate.js';
import { parseLineage, parseMetrics, parseTags, type Lineage } from './registry-values.js';
import type { VersionFacts } from '../../lib/artifact-signature.js';

type VersionFiles = VersionFacts['files'];

// Model names become URL path segments and folder names on gateways.
const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ALIAS_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
export const VERSION_STATUSES = ['ready', 'archived'] as const;
export type VersionStatus = (typeof VERSION_STATUSES)[number];

export interface Model {
  id: string;
  name: string;
  description: string;
  owner: string;
  tags: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export interface ModelVersion {
  id: string;
  modelId: string;
  modelName: string;
  number: number;
  status: VersionStatus;
  sha256: string;
  signature: TensorSignature;
  metrics: Record<string, number>;
  lineage: Lineage;
  description: string;
  createdAt: string;
  createdBy: string;
  /** Digest of the serving config (config.json), when the version has one. */
  configSha256: string | null;
  /** Digest of the drift reference profile, when the version has one. */
  profileSha256: string | null;
  /** base64 signed statement over the version's files (null until signed, for versions older than it). */
  statement: string | null;
  statementSignature: string | null;
}

export interface Alias {
  modelName: string;
  name: string;
  versionId: string;
  versionNumber: number;
  updatedAt: string;
  updatedBy: string;
}

export interface CreateModelInput {
  name: string;
  description?: string | null;
  owner?: string | null;
  tags?: unknown;
}

export interface UpdateModelInput {
  name: string;
  description?: string | null;
  owner?: string | null;
  tags?: unknown;
}

export interface ArtifactRecord {
  sha256: string;
  size: number;
  signature: string;
  keyId: string;
}

export interface NewVersionInput {
  model: string;
  artifact: ArtifactRecord;
  signature: TensorSignature;
  /** The serving config; undefined takes the newest version's config, null means none. */
  config?: ArtifactRecord | null | undefined;
  profile?: ArtifactRecord | null | undefined;
  /** Register bytes that an existing version of the model already has. */
  allowDuplicate?: boolean | undefined;
  /** Signs the version statement once the version number is known (inside the transaction). */
  signStatement: (facts: { model: string; version: number; createdAt: string; files: VersionFiles }) => { statement: string; signature: string };
  metrics?: unknown;
  lineage?: unknown;
  description?: string | null;
}

export class RegistryService {
  /** Asked before `production` moves to a version (the promotion gates); unset, nothing is asked. */
  promotionGate: PromotionGate | undefined;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    /** Called after a commit that changes what gateways should serve. */
    private readonly onChange: () => void,
  ) {}

  async createModel(ctx: CallContext, input: CreateModelInput): Promise<Model> {
    const name = input.name;
    if (!MODEL_NAME.test(name)) {
      throw new SluiceError('SLUICE_E_VALIDATION', 'model name must be 1-64 of a-z, 0-9, ".", "_", "-", starting with a letter or digit', { details: { field: 'name' } });
    }
    const at = now();
    const row: ModelTable = {
      id: newId('mdl'),
      name,
      description: input.description ?? '',
      owner: input.owner ?? ctx.actor.name,
      tags: JSON.stringify(parseTags(input.tags ?? {})),
      created_at: at,
      updated_at: at,
    };
    return this.audit.audited(ctx, 'model.create', `model/${name}`, async (tx) => {
      try {
        await tx.insertInto('models').values(row).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new SluiceError('SLUICE_E_STORE_CONFLICT', `model ${name} already exists`, { details: { model: name } });
        throw err;
      }
      const model = toModel(row);
      return { result: model, after: publicModel(model) };
    });
  }

  async updateModel(ctx: CallContext, input: UpdateModelInput): Promise<Model> {
    return this.audit.audited(ctx, 'model.update', `model/${input.name}`, async (tx) => {
      const before = toModel(await this.lockModel(tx, input.name));
      const after: Model = {
        ...before,
        description: input.description ?? before.description,
        owner: input.owner ?? before.owner,
        tags: input.tags === undefined || input.tags === null ? before.tags : parseTags(input.tags),
        updatedAt: now(),
      };
      await tx
        .updateTable('models')
        .set({ description: after.description, owner: after.owner, tags: JSON.stringify(after.tags), updated_at: after.updatedAt })
        .where('id', '=', before.id)
        .execute();
      return { result: after, before: publicModel(before), after: publicModel(after) };
    });
  }

  async createVersion(ctx: CallContext, input: NewVersionInput): Promise<ModelVersion> {
    const metrics = parseMetrics(input.metrics ?? {});
    const lineage = parseLineage(input.lineage ?? {});
    const version = await this.audit.audited(ctx, 'model_version.create', `model/${input.model}`, async (tx) => {
      const model = await this.lockModel(tx, input.model);
      const a = input.artifact;
      if (!input.allowDuplicate) {
        const same = await tx.selectFrom('model_versions').select('number').where('model_id', '=', model.id).where('artifact_sha256', '=', a.sha256).orderBy('number').execute();
        if (same.length > 0) {
          const numbers = same.map((r) => Number(r.number));
          throw new SluiceError('SLUICE_E_ARTIFACT_DUPLICATE', `model ${model.name} version ${numbers.join(', ')} already has these exact bytes (sha256 ${a.sha256}); upload with allowDuplicate (--allow-duplicate) to register them again`, {
            details: { model: model.name, versions: numbers, sha256: a.sha256 },
          });
        }
      }
      const last = await tx.selectFrom('model_versions').select(['number', 'config_sha256']).where('model_id', '=', model.id).orderBy('number', 'desc').limit(1).executeTakeFirst();
      const number = Number(last?.number ?? 0) + 1;
      for (const record of [a, input.config, input.profile]) {
        if (!record) continue;
        await tx
          .insertInto('artifacts')
          .values({ sha256: record.sha256, size: record.size, signature: record.signature, key_id: record.keyId, created_at: now() })
          .onConflict((oc) => oc.column('sha256').doNothing())
          .execute();
      }
      const configSha = input.config === undefined ? (last?.config_sha256 ?? null) : (input.config?.sha256 ?? null);
      const profileSha = input.profile?.sha256 ?? null;
      const createdAt = now();
      const files: VersionFiles = { 'model.onnx': a.sha256 };
      if (configSha) files['config.json'] = configSha;
      if (profileSha) files['profile.json'] = profileSha;
      const signed = input.signStatement({ model: model.name, version: number, createdAt, files });
      const row: ModelVersionTable = {
        id: newId('ver'),
        model_id: model.id,
        number,
        status: 'ready',
        artifact_sha256: a.sha256,
        signature: JSON.stringify(input.signature),
        metrics: JSON.stringify(metrics),
        lineage: JSON.stringify(lineage),
        description: input.description ?? '',
        created_at: createdAt,
        created_by: ctx.actor.name,
        config_sha256: configSha,
        profile_sha256: profileSha,
        statement: signed.statement,
        statement_signature: signed.signature,
      };
      await tx.insertInto('model_versions').values(row).execute();
      const version = toVersion(row, model.name);
      return {
        result: version,
        resource: `model/${model.name}/version/${number}`,
        after: { number, sha256: a.sha256, size: a.size, config: configSha, profile: profileSha, metrics, lineage, signature: input.signature },
      };
    });
    this.onChange();
    return version;
  }

  /**
   * Sign a statement for every version registered before statements existed (one UPDATE each; the
   * statement only restates digests the registry already signed, so it is not an audited change).
   */
  async signUnsignedVersions(sign: NewVersionInput['signStatement']): Promise<number> {
    const rows = await this.store.db
      .selectFrom('model_versions')
      .innerJoin('models', 'models.id', 'model_versions.model_id')
      .select(['model_versions.id', 'models.name', 'model_versions.number', 'model_versions.created_at', 'model_versions.artifact_sha256', 'model_versions.config_sha256', 'model_versions.profile_sha256'])
      .where('model_versions.statement', 'is', null)
      .execute();
    for (const r of rows) {
      const files: VersionFiles = { 'model.onnx': r.artifact_sha256 };
      if (r.config_sha256) files['config.json'] = r.config_sha256;
      if (r.profile_sha256) files['profile.json'] = r.profile_sha256;
      const signed = sign({ model: r.name, version: Number(r.number), createdAt: r.created_at, files });
      await this.store.db.updateTable('model_versions').set({ statement: signed.statement, statement_signature: signed.signature }).where('id', '=', r.id).where('statement', 'is', null).execute();
    }
    if (rows.length > 0) this.onChange();
    return rows.length;
  }

  async setVersionStatus(ctx: CallContext, model: string, number: number, status: string): Promise<ModelVersion> {
    if (!(VERSION_STATUSES as readonly string[]).includes(status)) throw new SluiceError('SLUICE_E_VALIDATION', `unknown status ${status}`, { details: { field: 'status' } });
    const version = await this.audit.audited(ctx, 'model_version.set_status', `model/${model}/version/${number}`, async (tx) => {
      const m = await this.lockModel(tx, model);
      const row = await this.versionRow(tx, m.id, model, number);
      if (status === 'archived') {
        const pinned = await tx.selectFrom('aliases').select('name').where('version_id', '=', row.id).execute();
        if (pinned.length > 0) {
          throw new SluiceError('SLUICE_E_STORE_CONFLICT', `version ${number} of ${model} is the target of alias ${pinned.map((p) => p.name).join(', ')}; move the alias first`, {
            details: { aliases: pinned.map((p) => p.name) },
          });
        }
      }
      await tx.updateTable('model_versions').set({ status }).where('id', '=', row.id).execute();
      return { result: toVersion({ ...row, status }, model), before: { status: row.status }, after: { status } };
    });
    this.onChange();
    return version;
  }

  /** Point `alias` at `number` (creating the alias if needed) in one statement of one transaction. */
  async setAlias(ctx: CallContext, model: string, alias: string, number: number, gateOverride?: string | null): Promise<Alias> {
    if (!ALIAS_NAME.test(alias)) throw new SluiceError('SLUICE_E_VALIDATION', 'alias must be 1-32 of a-z, 0-9, "_", "-", starting with a letter', { details: { field: 'alias' } });
    // The gate may evaluate the version (ONNX Runtime, a stored report): before, not inside, the alias's transaction.
    if (alias === 'production' && this.promotionGate && (await this.aliasTarget(model, alias)) !== number) {
      await this.promotionGate.admit(ctx, { model, version: number, action: 'alias.set', override: gateOverride });
    }
    const result = await this.audit.audited(ctx, 'alias.set', `model/${model}/alias/${alias}`, async (tx) => {
      const m = await this.lockModel(tx, model);
      const target = await this.versionRow(tx, m.id, model, number);
      if (target.status !== 'ready') throw new SluiceError('SLUICE_E_STORE_CONFLICT', `version ${number} of ${model} is ${target.status}`, { details: { status: target.status } });
      const current = await this.aliasVersion(tx, m.id, alias);
      const row = { model_id: m.id, name: alias, version_id: target.id, updated_at: now(), updated_by: ctx.actor.name };
      await tx
        .insertInto('aliases')
        .values(row)
        .onConflict((oc) => oc.columns(['model_id', 'name']).doUpdateSet({ version_id: row.version_id, updated_at: row.updated_at, updated_by: row.updated_by }))
        .execute();
      const out: Alias = { modelName: model, name: alias, versionId: target.id, versionNumber: number, updatedAt: row.updated_at, updatedBy: row.updated_by };
      return { result: out, before: current ? { version: Number(current.number) } : null, after: { version: number } };
    });
    this.onChange();
    return result;
  }

  async deleteAlias(ctx: CallContext, model: string, alias: string): Promise<boolean> {
    await this.audit.audited(ctx, 'alias.delete', `model/${model}/alias/${alias}`, async (tx) => {
      const m = await this.lockModel(tx, model);
      const current = await this.aliasVersion(tx, m.id, alias);
      if (!current) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `model ${model} has no alias ${alias}`, { details: { model, alias } });
      await tx.deleteFrom('aliases').where('model_id', '=', m.id).where('name', '=', alias).execute();
      return { result: true, before: { version: Number(current.number) }, after: null };
    });
    this.onChange();
    return true;
  }

  async model(name: string): Promise<Model | undefined> {
    const row = await this.store.db.selectFrom('models').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toModel(row) : undefined;
  }

  async models(page: PageArgs, filter: { owner?: string | null | undefined } = {}): Promise<Connection<Model>> {
    const size = pageSize(page.first);
    const after = decodeCursor('models', page.after);
    let q = this.store.db.selectFrom('models').selectAll();
    if (after !== undefined) q = q.where('name', '>', after);
    if (filter.owner) q = q.where('owner', '=', filter.owner);
    const rows = await q.orderBy('name').limit(size + 1).execute();
    return toConnection(rows, size, 'models', (r) => r.name, toModel, page.after);
  }

  /** Newest first. */
  async versions(model: Model, page: PageArgs, status?: string | null): Promise<Connection<ModelVersion>> {
    const size = pageSize(page.first);
    const after = decodeNumberCursor(`versions:${model.id}`, page.after);
    let q = this.store.db.selectFrom('model_versions').selectAll().where('model_id', '=', model.id);
    if (after !== undefined) q = q.where('number', '<', after);
    if (status) q = q.where('status', '=', status);
    const rows = await q.orderBy('number', 'desc').limit(size + 1).execute();
    return toConnection(rows, size, `versions:${model.id}`, (r) => Number(r.number), (r) => toVersion(r, model.name), page.after);
  }

  async version(model: string, number: number): Promise<ModelVersion | undefined> {
    const row = await this.store.db
      .selectFrom('model_versions')
      .innerJoin('models', 'models.id', 'model_versions.model_id')
      .selectAll('model_versions')
      .where('models.name', '=', model)
      .where('model_versions.number', '=', number)
      .executeTakeFirst();
    return row ? toVersion(row, model) : undefined;
  }

  /** Digest of the newest version's serving config (undefined: no version has one, or no such model). */
  async newestConfig(model: string): Promise<string | undefined> {
    const row = await this.store.db
      .selectFrom('model_versions')
      .innerJoin('models', 'models.id', 'model_versions.model_id')
      .select('model_versions.config_sha256')
      .where('models.name', '=', model)
      .orderBy('model_versions.number', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.config_sha256 ?? undefined;
  }

  async aliases(modelId: string): Promise<Alias[]> {
    const rows = await this.store.db
      .selectFrom('aliases')
      .innerJoin('model_versions', 'model_versions.id', 'aliases.version_id')
      .innerJoin('models', 'models.id', 'aliases.model_id')
      .select(['models.name as model', 'aliases.name', 'aliases.version_id', 'model_versions.number', 'aliases.updated_at', 'aliases.updated_by'])
      .where('aliases.model_id', '=', modelId)
      .orderBy('aliases.name')
      .execute();
    return rows.map((r) => ({ modelName: r.model, name: r.name, versionId: r.version_id, versionNumber: Number(r.number), updatedAt: r.updated_at, updatedBy: r.updated_by }));
  }

  async artifact(sha256: string): Promise<{ sha256: string; size: number; signature: string; keyId: string } | undefined> {
    const row = await this.store.db.selectFrom('artifacts').selectAll().where('sha256', '=', sha256).executeTakeFirst();
    return row ? { sha256: row.sha256, size: Number(row.size), signature: row.signature, keyId: row.key_id } : undefined;
  }

  /** The version number `alias` points at now, outside any transaction. */
  async aliasTarget(model: string, alias: string): Promise<number | undefined> {
    const row = await this.store.db
      .selectFrom('aliases')
      .innerJoin('models', 'models.id', 'aliases.model_id')
      .innerJoin('model_versions', 'model_versions.id', 'aliases.version_id')
      .select('model_versions.number')
      .where('models.name', '=', model)
      .where('aliases.name', '=', alias)
      .executeTakeFirst();
    return row ? Number(row.number) : undefined;
  }

  /** Lock the model row (PostgreSQL) so version numbers and alias moves of one model are serialized. */
  /** The version number an alias points at now, if it exists. */
  private async aliasVersion(tx: Tx, modelId: string, alias: string): Promise<{ number: number } | undefined> {
    return tx
      .selectFrom('aliases')
      .innerJoin('model_versions', 'model_versions.id', 'aliases.version_id')
      .select(['model_versions.number as number'])
      .where('aliases.model_id', '=', modelId)
      .where('aliases.name', '=', alias)
      .executeTakeFirst();
  }

  private async lockModel(tx: Tx, name: string): Promise<ModelTable> {
    const row = await this.store.forUpdate(tx.selectFrom('models').selectAll().where('name', '=', name)).executeTakeFirst();
    if (!row) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `no model ${name}`, { details: { model: name } });
    return row;
  }

  private async versionRow(tx: Tx, modelId: string, model: string, number: number): Promise<ModelVersionTable> {
    const row = await tx.selectFrom('model_versions').selectAll().where('model_id', '=', modelId).where('number', '=', number).executeTakeFirst();
    if (!row) throw new SluiceError('SLUICE_E_MODEL_VERSION_NOT_FOUND', `model ${model} has no version ${number}`, { details: { model, version: number } });
    return row;
  }
}

function toModel(r: ModelTable): Model {
  return { id: r.id, name: r.name, description: r.description, owner: r.owner, tags: JSON.parse(r.tags) as Record<string, string>, createdAt: r.created_at, updatedAt: r.updated_at };
}

function publicModel(m: Model): Record<string, unknown> {
  return { name: m.name, description: m.description, owner: m.owner, tags: m.tags };
}

export function toVersion(r: ModelVersionTable, modelName: string): ModelVersion {
  return {
    id: r.id,
    modelId: r.model_id,
    modelName,
    number: Number(r.number),
    status: r.status as VersionStatus,
    sha256: r.artifact_sha256,
    signature: JSON.parse(r.signature) as TensorSignature,
    metrics: JSON.parse(r.metrics) as Record<string, number>,
    lineage: JSON.parse(r.lineage) as Lineage,
    description: r.description,
    createdAt: r.created_at,
    createdBy: r.created_by,
    configSha256: r.config_sha256 ?? null,
    profileSha256: r.profile_sha256 ?? null,
    statement: r.statement ?? null,
    statementSignature: r.statement_signature ?? null,
  };
}
