// Registering a version from uploaded bytes: the model, its serving config and its drift reference
// profile. Config and profile are checked with the gateway's own parsers first (a bad one is refused
// naming the field, before anything is stored); then every file is stored content-addressed, the
// ONNX signature read (from the staged file, skipping the weights), and the version row written with
// one signed statement covering all files. A refused artifact leaves no file behind. The file steps happen before the audited transaction (they are not transactional anyway); if they
// fail, the attempt is still audited as failed.
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import { parseModelConfig } from '../../gateway/models/config.js';
import { parseProfile } from '../../gateway/drift/compile.js';
import type { CallContext } from './actor.js';
import type { AuditLog } from './audit.js';
import { StagedArtifact, type ArtifactStore } from './artifact-store.js';
import type { ArtifactRecord, ModelVersion, RegistryService } from './registry.js';
import type { RegistryKey } from './signing.js';

/** Where a version's drift profile lands in its folder on gateways when the config does not name one. */
export const DEFAULT_PROFILE_FILE = 'profile.json';
const PLAIN_FILE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export interface VersionUpload {
  model: string;
  /** The ONNX bytes as a stream, or already staged in the store (a multipart upload). */
  artifact: AsyncIterable<Uint8Array> | StagedArtifact;
  /** config.json bytes; omitted: the newest version's config. */
  config?: Uint8Array | undefined;
  /** profile.json bytes (gateway/drift/profile.ts format); omitted: the version has no profile. */
  profile?: Uint8Array | undefined;
  allowDuplicate?: boolean | undefined;
  metrics?: unknown;
  lineage?: unknown;
  description?: string | null;
}

type Deps = { audit: AuditLog; artifacts: ArtifactStore; registry: RegistryService; key: RegistryKey };

export async function uploadModelVersion(deps: Deps, ctx: CallContext, upload: VersionUpload): Promise<ModelVersion> {
  let prepared;
  try {
    const config = await effectiveConfig(deps, upload);
    if (upload.profile !== undefined) checkProfile(upload.profile);
    const staged = upload.artifact instanceof StagedArtifact ? upload.artifact : await deps.artifacts.stage(upload.artifact);
    let signature;
    try {
      signature = staged.onnxSignature();
    } catch (err) {
      staged.discard();
      throw err;
    }
    const stored = await deps.artifacts.commit(staged);
    const record = async (bytes: Uint8Array | undefined): Promise<ArtifactRecord | undefined> => {
      if (bytes === undefined) return undefined;
      const s = await deps.artifacts.put(once(bytes));
      return { sha256: s.sha256, size: s.size, signature: deps.key.signArtifact(s.sha256), keyId: deps.key.keyId };
    };
    prepared = { stored, signature, config: config === null ? null : await record(config), profile: await record(upload.profile) };
  } catch (err) {
    const mapped = toSluiceError(err, 'SLUICE_E_ARTIFACT_INVALID');
    if (mapped.status < 500) {
      await deps.audit.record(ctx, { action: 'model_version.create', resource: `model/${upload.model}`, outcome: 'failed', reason: mapped.code });
    }
    throw mapped;
  }
  const { stored, signature } = prepared;
  return deps.registry.createVersion(ctx, {
    model: upload.model,
    artifact: { sha256: stored.sha256, size: stored.size, signature: deps.key.signArtifact(stored.sha256), keyId: deps.key.keyId },
    signature,
    config: prepared.config,
    profile: prepared.profile,
    allowDuplicate: upload.allowDuplicate,
    signStatement: (facts) => deps.key.signVersion(facts),
    metrics: upload.metrics,
    lineage: upload.lineage,
    description: upload.description,
  });
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/**
 * The config the version gets: the uploaded one, else the newest version's, validated with the
 * gateway's schema. A version uploaded with a profile and a config without a `drift` section gets
 * `drift: { profile: "profile.json" }` (the defaults for the rest), so the profile is used.
 */
async function effectiveConfig(deps: Deps, upload: VersionUpload): Promise<Uint8Array | null> {
  let bytes = upload.config;
  if (bytes === undefined) {
    const previous = await deps.registry.newestConfig(upload.model);
    if (previous === undefined) {
      if (upload.profile === undefined) return null;
      bytes = new TextEncoder().encode('{}\n');
    } else {
      bytes = await deps.artifacts.readAll(previous);
    }
  }
  const raw = parseJson(bytes, 'config');
  try {
    parseModelConfig(upload.model, raw);
  } catch (err) {
    throw toSluiceError(err, 'SLUICE_E_CONFIG_INVALID', true);
  }
  const config = raw as { drift?: { profile: string } };
  if (config.drift !== undefined && (!PLAIN_FILE.test(config.drift.profile) || ['model.onnx', 'config.json'].includes(config.drift.profile))) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `model ${upload.model}: config field drift.profile must be a plain file name in the version folder (not model.onnx or config.json)`, {
      details: { model: upload.model, field: 'drift.profile' },
    });
  }
  if (upload.profile !== undefined && config.drift === undefined) {
    return new TextEncoder().encode(`${JSON.stringify({ ...config, drift: { profile: DEFAULT_PROFILE_FILE } }, null, 2)}\n`);
  }
  return bytes;
}

function checkProfile(bytes: Uint8Array): void {
  try {
    parseProfile(parseJson(bytes, 'profile'), 'uploaded profile');
  } catch (err) {
    const e = toSluiceError(err, 'SLUICE_E_CONFIG_INVALID', true);
    throw new SluiceError(e.code, e.message, { cause: err, details: { ...e.details, field: 'profile' } });
  }
}

function parseJson(bytes: Uint8Array, field: 'config' | 'profile'): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `${field} is not valid JSON: ${(err as Error).message}`, { cause: err, details: { field } });
  }
}
