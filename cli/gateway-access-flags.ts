// The gateway's access flags (issue 17, docs/gateway-auth.md), shared by `sluice gateway` and
// `sluice serve`, and their translation into the gateway's access options.
import { SluiceError } from '../lib/errors.js';
import type { GatewayAccessOptions } from '../gateway/access/access-policy.js';
import { parseRateLimit } from '../gateway/access/rate-limit.js';
import { readTokenFile } from '../gateway/access/token-file.js';

/** Flags both gateway commands take. */
export const GATEWAY_ACCESS_FLAGS = {
  'gateway-auth': {
    type: 'string', default: 'auto', choices: ['auto', 'on', 'off'],
    description: 'require bearer tokens on every route but health; auto: when the address is not loopback or --token-file is given',
  },
  insecure: { type: 'boolean', default: false, description: 'serve a non-loopback address without caller authentication' },
  'cors-origins': { type: 'list', placeholder: 'origin,...', description: 'browser origins allowed to call (scheme://host[:port]); none by default' },
  'rate-limit': { type: 'string', placeholder: 'rate[:burst]', description: 'calls per second per token, for tokens without a limit of their own' },
  'metrics-port': { type: 'int', description: 'also serve /metrics on this port, without a token' },
} as const;

/** Flags only the standalone gateway takes. */
export const STANDALONE_ACCESS_FLAGS = {
  'token-file': { type: 'string', placeholder: 'file', description: 'callers\' tokens with their scopes, one per line (docs/gateway-auth.md)' },
  'repository-api': { type: 'string', default: 'on', choices: ['on', 'off'], description: 'the repository extension (load/unload): on needs the repository scope when auth is on' },
} as const;

export interface AccessFlagValues {
  'gateway-auth': 'auto' | 'on' | 'off';
  insecure: boolean;
  'cors-origins'?: string[] | undefined;
  'rate-limit'?: string | undefined;
  'token-file'?: string | undefined;
  'repository-api'?: 'on' | 'off' | undefined;
}

export function accessOptions(v: AccessFlagValues): GatewayAccessOptions {
  const rateLimit = v['rate-limit'] === undefined ? undefined : parseRateLimit(v['rate-limit']);
  if (v['rate-limit'] !== undefined && rateLimit === undefined) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--rate-limit is <calls per second>[:<burst>], got "${v['rate-limit']}"`, { details: { flag: 'rate-limit' } });
  }
  const bad = v['cors-origins']?.find((o) => !/^https?:\/\/[^/\s]+$/.test(o));
  if (bad !== undefined) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--cors-origins entries are scheme://host[:port], got "${bad}"`, { details: { flag: 'cors-origins' } });
  return {
    auth: v['gateway-auth'],
    insecure: v.insecure,
    corsOrigins: v['cors-origins'],
    rateLimit,
    repositoryApi: v['repository-api'],
    tokens: v['token-file'] === undefined ? undefined : readTokenFile(v['token-file']),
  };
}
