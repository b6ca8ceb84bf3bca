// `sluice report --model weather [--version N] --format md|json`: one model version's record for
// filing (docs/model-record.md), read from the control plane's GraphQL field modelVersionRecord.
import { writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { SluiceError } from '../lib/errors.js';
import { defineCommand, type FlagValues } from '../lib/flags.js';
import { tokenFlag, ADMIN_CLIENT_FLAGS } from './common-flags.js';
import { baseUrl, graphql } from './control-plane-commands.js';

export const REPORT_COMMAND = defineCommand({
  name: 'report',
  summary: "Print a model version's record (what it is, lineage, gates, approvals, where it ran, drift and accuracy, audit events) as Markdown or JSON.",
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: tokenFlag('viewer or higher; the audit events need an admin token (audit:read)'),
    model: { type: 'string', required: true, description: 'registered model name' },
    version: { type: 'int', placeholder: 'n', description: 'version number (default: the newest)' },
    format: { type: 'string', default: 'md', choices: ['md', 'json'], description: 'Markdown to file, or the record as one JSON object' },
    out: { type: 'string', placeholder: 'path', description: 'write the record to this file instead of stdout' },
  },
});

export async function runReport(v: FlagValues<typeof REPORT_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  if (v.version !== undefined && !(v.version >= 1)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', '--version must be a positive integer', { details: { flag: 'version' } });
  const data = await graphql(baseUrl(v['control-plane']), v.token, 'query($m: String!, $v: Int) { modelVersionRecord(model: $m, version: $v) { document markdown } }', {
    m: v.model,
    v: v.version ?? null,
  });
  const record = data.modelVersionRecord as { document: unknown; markdown: string };
  const text = v.format === 'json' ? `${JSON.stringify(record.document, null, 2)}\n` : `${record.markdown}\n`;
  if (v.out !== undefined) writeFileSync(v.out, text);
  else out.write(text);
  return 0;
}
