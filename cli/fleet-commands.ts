// `sluice model placement`: which gateways serve a model, by label selector (docs/control-plane.md#the-fleet).
import type { Writable } from 'node:stream';
import { SluiceError } from '../lib/errors.js';
import { defineCommand, type FlagValues } from '../lib/flags.js';
import { tokenFlag, ADMIN_CLIENT_FLAGS } from './common-flags.js';
import { baseUrl, graphql } from './control-plane-commands.js';

export const MODEL_PLACEMENT_COMMAND = defineCommand({
  name: 'model placement',
  summary: 'Show, set (--selector pool=gpu,region=eu) or lift (--everywhere) the gateways a model is served on.',
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: tokenFlag('viewer token to show; operator or admin token to change'),
    model: { type: 'string', required: true, description: 'registered model name' },
    selector: { type: 'string', placeholder: 'key=value,key!=value', description: "gateway labels that must all hold (region reads the gateway's region)" },
    everywhere: { type: 'boolean', default: false, description: 'serve the model on every gateway again' },
  },
});

/** Prints `{"model": ..., "placement": "pool=gpu" | null}`. */
export async function runModelPlacement(v: FlagValues<typeof MODEL_PLACEMENT_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  if (v.everywhere && v.selector !== undefined) throw new SluiceError('SLUICE_E_CONFIG_INVALID', 'give --selector or --everywhere, not both', { details: { flag: 'everywhere' } });
  const base = baseUrl(v['control-plane']);
  let model: { name: string; placement: string | null } | null;
  if (v.everywhere || v.selector !== undefined) {
    const data = await graphql(base, v.token, 'mutation($m: String!, $s: String) { setModelPlacement(input: { model: $m, selector: $s }) { name placement } }', {
      m: v.model,
      s: v.everywhere ? null : v.selector,
    });
    model = data.setModelPlacement;
  } else {
    model = (await graphql(base, v.token, 'query($m: String!) { model(name: $m) { name placement } }', { m: v.model })).model;
  }
  if (!model) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no model ${v.model}`, { details: { model: v.model } });
  out.write(`${JSON.stringify({ model: model.name, placement: model.placement })}\n`);
  return 0;
}
