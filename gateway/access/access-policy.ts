// Who may call this gateway: bearer tokens with gateway scopes, browser origins, and per-token rate
// limits, checked at the very top of every route but health (and of the WebSocket upgrade), before
// any body byte is read (server/access-gate.ts reads the headers and answers refusals; this module
// is transport-free). Tokens are never sent here in the clear: the control plane pushes the
// SHA-256 of each live token with its scopes (desired state `access`), a standalone gateway reads
// them from its --token-file. A token string is hashed once; the verdict is cached per string until
// the next access update, so a call costs a header read and two map lookups.
//
// Scopes: `infer:<model>` / `infer:*` (infer, model metadata and readiness, feedback, WebSocket
// calls), `metrics` (/metrics and the drift reports), `repository` (the repository extension).
import { createHash } from 'node:crypto';
import { SluiceError } from '../../lib/errors.js';
import type { WireAccessToken } from '../../lib/sync-wire.js';
import { RateLimiter, type RateLimit } from './rate-limit.js';

export type GatewayAuthMode = 'auto' | 'on' | 'off';

export interface GatewayAccessOptions {
  /** auto (default): required when an address is not loopback or a token file is given. */
  auth?: GatewayAuthMode | undefined;
  /** Serve a non-loopback address without authentication (or without any token source). */
  insecure?: boolean | undefined;
  /** The standalone gateway's tokens (from --token-file); a control plane pushes its own. */
  tokens?: readonly WireAccessToken[] | undefined;
  /** Browser origins allowed to call (exact `scheme://host[:port]`); none by default. */
  corsOrigins?: readonly string[] | undefined;
  /** The repository extension: on (default; needs the `repository` scope when auth is on) or off. */
  repositoryApi?: 'on' | 'off' | undefined;
  /** Rate limit of tokens that carry none of their own. */
  rateLimit?: RateLimit | undefined;
}

/** What a route needs of its caller. */
export const enum Need {
  Infer,
  Metrics,
  Repository,
}

/** A live token as the gateway checks it. */
export interface Grant {
  readonly hash: string;
  readonly name: string;
  readonly inferAll: boolean;
  readonly models: ReadonlySet<string>;
  readonly metrics: boolean;
  readonly repository: boolean;
  readonly limit: RateLimit | undefined;
}

/** The Sec-WebSocket-Protocol entry that carries a browser's token: `sluice.bearer.<token>`. */
export const WS_TOKEN_PROTOCOL = 'sluice.bearer.';
const MAX_CACHED_VERDICTS = 8192;

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The first offered WebSocket subprotocol that is not a token, to echo back ('' for none). */
export function selectWsProtocol(offered: string): string {
  for (const entry of offered.split(',')) {
    const p = entry.trim();
    if (p !== '' && !p.startsWith(WS_TOKEN_PROTOCOL)) return p;
  }
  return '';
}

function toGrant(t: WireAccessToken, fallback: RateLimit | undefined): Grant {
  const models = new Set<string>();
  let inferAll = false;
  for (const s of t.scopes) {
    if (s === 'infer:*') inferAll = true;
    else if (s.startsWith('infer:')) models.add(s.slice(6));
  }
  const own = t.rateLimit != null && t.rateLimit > 0 ? { rate: t.rateLimit, burst: t.rateBurst ?? Math.max(1, Math.ceil(t.rateLimit)) } : undefined;
  return {
    hash: t.sha256, name: t.name, inferAll, models,
    metrics: t.scopes.includes('metrics'), repository: t.scopes.includes('repository'), limit: own ?? fallback,
  };
}

export class GatewayAccess {
  /** Calls must carry a valid token (decided once, before the gateway listens). */
  required = false;
  /** The models come from a control plane: the repository API is refused outright. */
  managed = false;
  readonly repositoryApi: 'on' | 'off';
  readonly #options: GatewayAccessOptions;
  readonly #origins: ReadonlySet<string>;
  #grants = new Map<string, Grant>();
  /** token string → its grant, or null for an unknown token; cleared at every update. */
  #verdicts = new Map<string, Grant | null>();
  readonly #limiter = new RateLimiter();

  constructor(options: GatewayAccessOptions = {}) {
    this.#options = options;
    this.#origins = new Set(options.corsOrigins ?? []);
    this.repositoryApi = options.repositoryApi ?? 'on';
    if (options.tokens !== undefined) this.update(options.tokens);
  }

  /** The models come from a control plane, which also pushes the tokens (control-plane sync calls this). */
  manage(): void {
    this.managed = true;
  }

  /**
   * Decide whether tokens are required, or refuse to start: a non-loopback address needs auth
   * and a token source (a token file or a control plane) unless `insecure`; auth `on` needs a source.
   */
  decide(hosts: readonly string[]): void {
    const mode = this.#options.auth ?? 'auto';
    const source = this.#options.tokens !== undefined || this.managed;
    const exposed = hosts.filter((h) => !isLoopback(h));
    const insecure = this.#options.insecure === true;
    if (mode === 'on' && !source) {
      throw new SluiceError('SLUICE_E_GATEWAY_INSECURE', 'gateway auth is on but there is no token source: give --token-file or --control-plane');
    }
    if (mode === 'off' && exposed.length > 0 && !insecure) {
      throw new SluiceError('SLUICE_E_GATEWAY_INSECURE', `gateway auth is off but ${exposed.join(', ')} is not a loopback address: drop --gateway-auth off, or add --insecure to serve it open`);
    }
    if (mode === 'auto' && exposed.length > 0 && !source && !insecure) {
      throw new SluiceError('SLUICE_E_GATEWAY_INSECURE', `${exposed.join(', ')} is not a loopback address and there is no token source: give --token-file or --control-plane, or add --insecure to serve it open`);
    }
    this.required = mode === 'on' || (mode === 'auto' && source && (exposed.length > 0 || this.#options.tokens !== undefined));
  }

  /** Replace the live tokens (a pushed desired state, or the token file). */
  update(tokens: readonly WireAccessToken[]): void {
    const grants = new Map<string, Grant>();
    for (const t of tokens) grants.set(t.sha256, toGrant(t, this.#options.rateLimit));
    this.#grants = grants;
    this.#verdicts = new Map();
    this.#limiter.retain(new Set(grants.keys()));
  }

  get tokenCount(): number {
    return this.#grants.size;
  }

  /** A browser origin may call (exact match with --cors-origins). */
  originAllowed(origin: string): boolean {
    return this.#origins.has(origin);
  }

  /** Token, scope and rate limit of one HTTP call, from its Authorization header; throws the refusal. */
  check(authorization: string, need: Need, model: string | undefined): void {
    const grant = this.#authenticate(authorization);
    this.#authorize(grant, need, model);
    this.#limit(grant);
  }

  /** The WebSocket upgrade: origin, then the token from Authorization or a `sluice.bearer.` subprotocol. Throws to refuse. */
  authenticateUpgrade(headers: ReadonlyMap<string, string>): Grant | undefined {
    const origin = headers.get('origin');
    if (origin !== undefined && origin !== '' && !this.originAllowed(origin)) {
      throw new SluiceError('SLUICE_E_GATEWAY_ORIGIN', `WebSocket upgrades from origin ${origin.slice(0, 100)} are not allowed (--cors-origins)`);
    }
    if (!this.required) return undefined;
    let authorization = headers.get('authorization') ?? '';
    if (authorization === '') {
      const entry = (headers.get('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim()).find((p) => p.startsWith(WS_TOKEN_PROTOCOL));
      if (entry !== undefined) authorization = `Bearer ${entry.slice(WS_TOKEN_PROTOCOL.length)}`;
    }
    const grant = this.#authenticate(authorization);
    if (!grant.inferAll && grant.models.size === 0) throw new SluiceError('SLUICE_E_GATEWAY_SCOPE', 'the token has no infer scope');
    return grant;
  }

  /** One WebSocket call on a connection opened with `grant`: scope (the token may have been revoked since) and rate. */
  checkCall(grant: Grant | undefined, model: string): void {
    if (!this.required || grant === undefined) return;
    const live = this.#grants.get(grant.hash);
    if (live === undefined) throw new SluiceError('SLUICE_E_AUTH_INVALID', 'the token of this connection was revoked');
    this.#authorize(live, Need.Infer, model);
    this.#limit(live);
  }

  #authenticate(authorization: string): Grant {
    if (authorization === '') throw new SluiceError('SLUICE_E_AUTH_MISSING', 'this route needs Authorization: Bearer <token>');
    let verdict = this.#verdicts.get(authorization);
    if (verdict === undefined) {
      const m = /^bearer +(\S+)\s*$/i.exec(authorization);
      verdict = m ? (this.#grants.get(sha256Hex(m[1]!)) ?? null) : null;
      // Random tokens must not grow the cache without bound.
      if (this.#verdicts.size >= MAX_CACHED_VERDICTS) this.#verdicts.clear();
      this.#verdicts.set(authorization, verdict);
    }
    if (verdict === null) throw new SluiceError('SLUICE_E_AUTH_INVALID', 'the bearer token is not valid on this gateway (unknown, revoked or malformed)');
    return verdict;
  }

  #authorize(grant: Grant, need: Need, model: string | undefined): void {
    if (need === Need.Infer) {
      // No model named (server metadata): any infer scope will do.
      if (grant.inferAll || (model === undefined ? grant.models.size > 0 : grant.models.has(model))) return;
      throw new SluiceError('SLUICE_E_GATEWAY_SCOPE', `the token has no infer:${model ?? '*'} scope`);
    }
    if (need === Need.Metrics ? grant.metrics : grant.repository) return;
    throw new SluiceError('SLUICE_E_GATEWAY_SCOPE', `the token has no ${need === Need.Metrics ? 'metrics' : 'repository'} scope`);
  }

  #limit(grant: Grant): void {
    if (grant.limit === undefined) return;
    const wait = this.#limiter.take(grant.hash, grant.limit);
    if (wait > 0) throw new SluiceError('SLUICE_E_GATEWAY_RATE_LIMITED', `token ${grant.name} is over its rate limit of ${grant.limit.rate}/s`, { retryAfter: wait });
  }
}
