// First-start seeding for `sluice serve`: register a Triton-like model repository
// (`<name>/<version>/model.onnx`) in an empty registry, every version uploaded like any other and
// `production` on the newest, all audited with the actor `system`. Each version is registered with
// the serving config it is served with (its own `<version>/config.json`, else the model's) and its
// drift profile (the file the config's drift.profile names), so the registry delivers them too. A registry that already has
// models is left alone, so restarts and later changes are never overwritten.
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../lib/log.js';
import { systemContext } from './actor.js';
import type { ControlPlaneServices } from './control-plane.js';

export async function seedRepository(services: ControlPlaneServices, dir: string, logger: Logger): Promise<string[]> {
  if ((await services.registry.models({ first: 1 })).edges.length > 0) return [];
  const ctx = systemContext('seed');
  const seeded: string[] = [];
  const folders = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  for (const name of folders) {
    const versions = readdirSync(join(dir, name))
      .filter((v) => /^[1-9][0-9]*$/.test(v) && existsSync(join(dir, name, v, 'model.onnx')))
      .map(Number)
      .sort((a, b) => a - b);
    if (versions.length === 0) continue;
    try {
      await services.registry.createModel(ctx, { name, description: `registered from ${join(dir, name)} at first start`, owner: 'system' });
      let last = 0;
      for (const v of versions) {
        const created = await services.uploadVersion(ctx, {
          model: name,
          artifact: createReadStream(join(dir, name, String(v), 'model.onnx')),
          ...versionFiles(join(dir, name), String(v)),
          allowDuplicate: true,
          lineage: { source: join(dir, name, String(v), 'model.onnx') },
        });
        last = created.number;
      }
      await services.registry.setAlias(ctx, name, 'production', last);
      seeded.push(name);
    } catch (err) {
      // One unusable folder (a bad name, a broken file) must not keep the control plane from starting.
      logger.warn({ err, model: name }, 'model not registered from the repository');
    }
  }
  logger.info({ models: seeded, dir }, 'model repository registered at first start');
  return seeded;
}

/** The config and drift profile a repository serves a version with, as bytes (absent ones omitted). */
function versionFiles(modelDir: string, version: string): { config?: Uint8Array; profile?: Uint8Array } {
  const own = join(modelDir, version, 'config.json');
  const configFile = existsSync(own) ? own : join(modelDir, 'config.json');
  if (!existsSync(configFile)) return {};
  const config = readFileSync(configFile);
  const out: { config?: Uint8Array; profile?: Uint8Array } = { config };
  let profile: unknown;
  try {
    profile = (JSON.parse(config.toString('utf8')) as { drift?: { profile?: unknown } }).drift?.profile;
  } catch {
    return out; // the upload refuses the config and names what is wrong
  }
  if (typeof profile === 'string' && existsSync(join(modelDir, version, profile))) out.profile = readFileSync(join(modelDir, version, profile));
  return out;
}
