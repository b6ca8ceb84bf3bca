// `sluice model regions`: where a model may be served and trained (data residency, docs/data-at-rest.md).
import type { Writable } from 'node:stream';
import { SluiceError } from '../lib/errors.js';
import { defineCommand, type FlagValues } from '../lib/flags.js';
import { tokenFlag, ADMIN_CLIENT_FLAGS } from './common-flags.js';
import { baseUrl, graphql } from './control-plane-commands.js';

export const MODEL_REGIONS_COMMAND = defineCommand({
  name: 'model regions',
  summary: 'Show, restrict (--regions eu,de) or lift (--anywhere) the regions a model is served and trained in.',
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: tokenFlag('viewer token to show; operator or admin token to change'),
    model: { type: 'string', required: true, description: 'registered model name' },
    regions: { type: 'list', placeholder: 'region,...', description: "gateways' and runners' regions the model is allowed in" },
    anywhere: { type: 'boolean', default: false, description: 'lift the restriction' },
  },
});

/** Prints `{"model": ..., "allowedRegions": [...] | null}`. */
export async function runModelRegions(v: FlagValues<typeof MODEL_REGIONS_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  if (v.anywhere && v.regions !== undefined) throw new SluiceError('SLUICE_E_CONFIG_INVALID', 'give --regions or --anywhere, not both', { details: { flag: 'anywhere' } });
  const base = baseUrl(v['control-plane']);
  let model: { name: string; allowedRegions: string[] | null } | null;
  if (v.anywhere || v.regions !== undefined) {
    const data = await graphql(base, v.token, 'mutation($m: String!, $r: [String!]) { setModelRegions(input: { model: $m, regions: $r }) { name allowedRegions } }', {
      m: v.model,
      r: v.anywhere ? null : v.regions,
    });
    model = data.setModelRegions;
  } else {
    model = (await graphql(base, v.token, 'query($m: String!) { model(name: $m) { name allowedRegions } }', { m: v.model })).model;
  }
  if (!model) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no model ${v.model}`, { details: { model: v.model } });
  out.write(`${JSON.stringify({ model: model.name, allowedRegions: model.allowedRegions })}\n`);
  return 0;
}
