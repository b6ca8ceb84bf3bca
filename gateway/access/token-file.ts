// The standalone gateway's token source (--token-file): one token per line, then its scopes, then
// optional settings; `#` starts a comment.
//
//   <token> | sha256:<hex>   <scope>[,<scope>...]   [rate=<per second>[:<burst>]]   [name=<label>]
//
// A token may be written as the SHA-256 of its secret so the file holds no secret at all. Scopes
// are `infer:*`, `infer:<model>`, `metrics` and `repository` (docs/gateway-auth.md).
import { readFileSync } from 'node:fs';
import { SluiceError } from '../../lib/errors.js';
import type { WireAccessToken } from '../../lib/sync-wire.js';
import { sha256Hex } from './access-policy.js';
import { parseRateLimit } from './rate-limit.js';

const SCOPE = /^(?:infer:\*|infer:[A-Za-z0-9][A-Za-z0-9._-]{0,127}|metrics|repository)$/;
const HASH = /^sha256:([0-9a-f]{64})$/;

/** Whether `scope` is a gateway scope. */
export function isGatewayScope(scope: string): boolean {
  return SCOPE.test(scope);
}

function invalid(path: string, line: number, message: string): SluiceError {
  return new SluiceError('SLUICE_E_GATEWAY_TOKEN_FILE', `${path} line ${line}: ${message}`, { details: { flag: 'token-file', line } });
}

export function parseTokenFile(text: string, path = 'token file'): WireAccessToken[] {
  const tokens: WireAccessToken[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const fields = raw.replace(/#.*$/, '').trim().split(/\s+/).filter((f) => f !== '');
    if (fields.length === 0) return;
    const [secret, scopeList, ...rest] = fields as [string, string | undefined, ...string[]];
    if (scopeList === undefined) throw invalid(path, line, 'a token needs its scopes after it (e.g. infer:*,metrics)');
    const hashed = HASH.exec(secret);
    if (!hashed && secret.length < 16) throw invalid(path, line, 'a token must be at least 16 characters (or sha256:<64 hex digits>)');
    const sha256 = hashed ? hashed[1]! : sha256Hex(secret);
    if (seen.has(sha256)) throw invalid(path, line, 'the same token is listed twice');
    seen.add(sha256);
    const scopes = scopeList.split(',').filter((s) => s !== '');
    const bad = scopes.find((s) => !isGatewayScope(s));
    if (bad !== undefined || scopes.length === 0) throw invalid(path, line, `unknown scope ${JSON.stringify(bad ?? scopeList)}: use infer:*, infer:<model>, metrics or repository`);
    const token: WireAccessToken = { sha256, name: `line ${line}`, scopes, rateLimit: null, rateBurst: null };
    for (const setting of rest) {
      const eq = setting.indexOf('=');
      const key = setting.slice(0, eq);
      const value = setting.slice(eq + 1);
      if (key === 'rate') {
        const limit = parseRateLimit(value);
        if (!limit) throw invalid(path, line, `rate must be <calls per second>[:<burst>], got ${JSON.stringify(value)}`);
        token.rateLimit = limit.rate;
        token.rateBurst = limit.burst;
      } else if (key === 'name' && value !== '') {
        token.name = value.slice(0, 64);
      } else {
        throw invalid(path, line, `unknown setting ${JSON.stringify(setting)}: use rate=<n>[:<burst>] or name=<label>`);
      }
    }
    tokens.push(token);
  });
  return tokens;
}

export function readTokenFile(path: string): WireAccessToken[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_FILE_MISSING', `cannot read the token file ${path}`, { cause: err, details: { flag: 'token-file' } });
  }
  return parseTokenFile(text, path);
}
