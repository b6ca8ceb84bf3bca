// Registering a version from uploaded bytes: store them content-addressed, read the ONNX signature,
// sign the digest, then write the version row. The file steps happen before the audited transaction
// (they are not transactional anyway); if they fail, the attempt is still audited as failed.
import { readFile } from 'node:fs/promises';
import { toSluiceError } from '../../lib/errors.js';
import type { CallContext } from './actor.js';
import type { AuditLog } from './audit.js';
import type { ArtifactStore } from './artifact-store.js';
import { readOnnxSignature } from './onnx-signature.js';
import type { ModelVersion, RegistryService } from './registry.js';
import type { RegistryKey } from './signing.js';

export interface VersionUpload {
  model: string;
  artifact: AsyncIterable<Uint8Array>;
  metrics?: unknown;
  lineage?: unknown;
  description?: string | null;
}

export async function uploadModelVersion(
  deps: { audit: AuditLog; artifacts: ArtifactStore; registry: RegistryService; key: RegistryKey },
  ctx: CallContext,
  upload: VersionUpload,
): Promise<ModelVersion> {
  let prepared;
  try {
    const stored = await deps.artifacts.put(upload.artifact);
    const signature = readOnnxSignature(await readFile(stored.path));
    prepared = { stored, signature };
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
    metrics: upload.metrics,
    lineage: upload.lineage,
    description: upload.description,
  });
}
