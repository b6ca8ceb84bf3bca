// The control-plane side of gateway sync: registration, heartbeats (what each gateway has loaded and
// how healthy it is) and the gateway list. A heartbeat that only says "still here" updates the
// timestamp without an audit event; one that changes what the gateway reports is audited like any
// other change, so the log shows when each gateway loaded what, without one row per beat. A
// heartbeat may carry the URL the gateway advertises to its peers; the live gateways' URLs go out
// to each gateway as its peers (feedback forwarding, docs/feedback.md).
import { SluiceError } from '../../lib/errors.js';
import { isUniqueViolation, type Store } from '../store/db.js';
import type { GatewayTable } from '../store/tables.js';
import type { CallContext } from './actor.js';
import type { AuditLog } from './audit.js';
import { newId, now } from './ids.js';
import { decodeCursor, pageSize, toConnection, type Connection, type PageArgs } from './pagination.js';
import { parseTags } from './registry-values.js';
import type { LoadedVersionReport } from '../../lib/sync-wire.js';
import { parseAllowedRegions, regionAllows } from './residency.js';
import { parsePlacement, selectorAllows } from './placement.js';

const GATEWAY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const HEALTH_STATES = ['healthy', 'degraded', 'unhealthy', 'unknown'] as const;
export type Health = (typeof HEALTH_STATES)[number];
const MAX_LOADED = 1024;
/** A refusal reason is kept whole up to this many characters (a load error with its cause chain). */
const MAX_REASON = 8192;

export type LoadedVersion = Omit<LoadedVersionReport, 'state'> & { state: string };

/** One gateway's view of one model version, for the fleet report of an alias move. */
export interface GatewayVersionState {
  gateway: string;
  /** ready, loading, failed, or pending (the gateway has not reported the version yet) */
  state: string;
  reason: string | null;
  reportedAt: string | null;
}

export interface FleetVersionState {
  /** Gateways connected now (a heartbeat within the stale limit) that the model's regions and placement let serve it. */
  gateways: number;
  loaded: number;
  failed: number;
  states: GatewayVersionState[];
}

export interface Gateway {
  id: string;
  name: string;
  region: string;
  labels: Record<string, string>;
  tokenId: string;
  registeredAt: string;
  lastHeartbeatAt: string | null;
  loaded: LoadedVersion[];
  health: Health;
  healthMessage: string;
  advertiseUrl: string | null;
}

export interface HeartbeatInput {
  name: string;
  loaded: LoadedVersion[];
  health: string;
  message?: string | null;
  /** The base URL peers reach the gateway at; absent or null: none. */
  advertiseUrl?: string | null;
}

/** A live gateway as its peers see it. */
export interface GatewayPeer {
  name: string;
  url: string;
}

const MAX_URL = 512;
/** How long one read of the live gateways serves every peers() call of a replica. */
const PEERS_CACHE_MS = 1000;

export class GatewayService {
  #live: { at: number; staleMs: number; rows: { name: string; region: string; advertise_url: string | null }[] } | undefined;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
  ) {}

  /** Register (or re-register after a restart) the calling gateway token under `name`. */
  async register(ctx: CallContext, input: { name: string; region?: string | null; labels?: unknown }): Promise<Gateway> {
    if (!GATEWAY_NAME.test(input.name)) throw new SluiceError('SLUICE_E_VALIDATION', 'gateway name must be 1-64 of letters, digits, ".", "_", "-"', { details: { field: 'name' } });
    const region = input.region ?? '';
    if (region.length > 64) throw new SluiceError('SLUICE_E_VALIDATION', 'region is at most 64 characters', { details: { field: 'region' } });
    const labels = parseTags(input.labels ?? {});
    return this.audit.audited(ctx, 'gateway.register', `gateway/${input.name}`, async (tx) => {
      const existing = await this.store.forUpdate(tx.selectFrom('gateways').selectAll().where('name', '=', input.name)).executeTakeFirst();
      if (existing && existing.token_id !== ctx.actor.id) {
        const owner = await tx.selectFrom('tokens').select('revoked_at').where('id', '=', existing.token_id).executeTakeFirst();
        if (owner && owner.revoked_at === null) {
          throw new SluiceError('SLUICE_E_STORE_CONFLICT', `gateway ${input.name} is registered by another gateway token`, { details: { gateway: input.name } });
        }
      }
      const row: GatewayTable = {
        id: existing?.id ?? newId('gw'),
        name: input.name,
        region,
        labels: JSON.stringify(labels),
        token_id: ctx.actor.id,
        registered_at: now(),
        last_heartbeat_at: existing?.last_heartbeat_at ?? null,
        loaded: existing?.loaded ?? '[]',
        health: existing?.health ?? 'unknown',
        health_message: existing?.health_message ?? '',
        advertise_url: existing?.advertise_url ?? null,
      };
      try {
        if (existing) await tx.updateTable('gateways').set(row).where('id', '=', row.id).execute();
        else await tx.insertInto('gateways').values(row).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new SluiceError('SLUICE_E_STORE_CONFLICT', `gateway ${input.name} was registered concurrently`, { details: { gateway: input.name } });
        throw err;
      }
      const before = existing ? { region: existing.region, labels: JSON.parse(existing.labels) as unknown, tokenId: existing.token_id } : null;
      return { result: toGateway(row), before, after: { region, labels, tokenId: ctx.actor.id } };
    });
  }

  async heartbeat(ctx: CallContext, input: HeartbeatInput): Promise<Gateway> {
    const loaded = parseLoaded(input.loaded);
    if (!(HEALTH_STATES as readonly string[]).includes(input.health)) throw new SluiceError('SLUICE_E_VALIDATION', `unknown health ${input.health}`, { details: { field: 'health' } });
    const message = (input.message ?? '').slice(0, 1024);
    const advertiseUrl = parseAdvertiseUrl(input.advertiseUrl);
    const at = now();
    const current = await this.ownGateway(ctx, input.name);
    const changed = current.loaded !== JSON.stringify(loaded) || current.health !== input.health || current.health_message !== message || current.advertise_url !== advertiseUrl;
    const update = { last_heartbeat_at: at, loaded: JSON.stringify(loaded), health: input.health, health_message: message, advertise_url: advertiseUrl };
    if (!changed) {
      await this.store.db.updateTable('gateways').set({ last_heartbeat_at: at }).where('id', '=', current.id).execute();
      return toGateway({ ...current, last_heartbeat_at: at });
    }
    return this.audit.audited(ctx, 'gateway.report', `gateway/${input.name}`, async (tx) => {
      await tx.updateTable('gateways').set(update).where('id', '=', current.id).execute();
      return {
        result: toGateway({ ...current, ...update }),
        before: { loaded: JSON.parse(current.loaded) as unknown, health: current.health, message: current.health_message, advertiseUrl: current.advertise_url },
        after: { loaded, health: input.health, message, advertiseUrl },
      };
    });
  }

  async list(page: PageArgs): Promise<Connection<Gateway>> {
    const size = pageSize(page.first);
    const after = decodeCursor('gateways', page.after);
    let q = this.store.db.selectFrom('gateways').selectAll();
    if (after !== undefined) q = q.where('name', '>', after);
    const rows = await q.orderBy('name').limit(size + 1).execute();
    return toConnection(rows, size, 'gateways', (r) => r.name, toGateway, page.after);
  }

  /**
   * What every connected gateway reports for one model version (the fleet side of an alias move).
   * Gateways the model is kept out of (its regions, its placement) never load it and are left out,
   * so `sluice upload --alias` does not wait for them.
   */
  async versionStates(model: string, version: number, staleMs: number): Promise<FleetVersionState> {
    const since = new Date(Date.now() - staleMs).toISOString();
    const target = await this.store.db.selectFrom('models').select(['allowed_regions', 'placement']).where('name', '=', model).executeTakeFirst();
    const regions = parseAllowedRegions(target?.allowed_regions);
    const placement = parsePlacement(target?.placement);
    const connected = await this.store.db.selectFrom('gateways').selectAll().where('last_heartbeat_at', '>=', since).orderBy('name').execute();
    const rows = connected.filter((r) => regionAllows(regions, r.region) && selectorAllows(placement, { region: r.region, labels: JSON.parse(r.labels) as Record<string, string> }));
    const states = rows.map((r): GatewayVersionState => {
      const entry = (JSON.parse(r.loaded) as LoadedVersion[]).find((l) => l.model === model && l.version === version);
      return { gateway: r.name, state: entry?.state ?? 'pending', reason: entry?.reason ?? null, reportedAt: r.last_heartbeat_at };
    });
    return { gateways: states.length, loaded: states.filter((s) => s.state === 'ready').length, failed: states.filter((s) => s.state === 'failed').length, states };
  }

  /**
   * The peers of gateway `self`: every other gateway of its region connected now (a heartbeat within
   * `staleMs`, the fleet's notion of live) that advertises a URL, by name. Feedback never leaves a
   * region (the answers and the truth may be personal data kept there: docs/data-at-rest.md, "Data residency"), and a
   * load balancer's pool is one region. The live list is read at most once per PEERS_CACHE_MS per
   * replica, whatever the number of gateways polling (2,000 polls/s at 10,000 gateways).
   */
  async peers(self: { name: string; region: string }, staleMs: number): Promise<GatewayPeer[]> {
    const nowMs = Date.now();
    let live = this.#live;
    if (live === undefined || nowMs - live.at > PEERS_CACHE_MS || live.staleMs !== staleMs) {
      const since = new Date(nowMs - staleMs).toISOString();
      const rows = await this.store.db.selectFrom('gateways').select(['name', 'region', 'advertise_url'])
        .where('last_heartbeat_at', '>=', since).where('advertise_url', 'is not', null).orderBy('name').execute();
      this.#live = live = { at: nowMs, staleMs, rows };
    }
    return live.rows.filter((r) => r.region === self.region && r.name !== self.name).map((r) => ({ name: r.name, url: r.advertise_url! }));
  }

  async get(name: string): Promise<Gateway | undefined> {
    const row = await this.store.db.selectFrom('gateways').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toGateway(row) : undefined;
  }

  async ofToken(tokenId: string): Promise<Gateway | undefined> {
    const row = await this.store.db.selectFrom('gateways').selectAll().where('token_id', '=', tokenId).orderBy('registered_at', 'desc').executeTakeFirst();
    return row ? toGateway(row) : undefined;
  }

  /** A gateway token may only report for the gateway it registered; anything else is denied and audited. */
  private async ownGateway(ctx: CallContext, name: string): Promise<GatewayTable> {
    const row = await this.store.db.selectFrom('gateways').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no gateway ${name}; register it first`, { details: { gateway: name } });
    if (row.token_id !== ctx.actor.id) return this.audit.denied(ctx, 'gateway.report', `gateway/${name}`, 'gateway registered by another token');
    return row;
  }
}

function parseLoaded(value: unknown): LoadedVersion[] {
  if (!Array.isArray(value) || value.length > MAX_LOADED) throw new SluiceError('SLUICE_E_VALIDATION', `loaded must be a list of at most ${MAX_LOADED} versions`, { details: { field: 'loaded' } });
  return value.map((v: Partial<LoadedVersion>) => {
    if (typeof v.model !== 'string' || !Number.isInteger(v.version) || typeof v.state !== 'string') {
      throw new SluiceError('SLUICE_E_VALIDATION', 'every loaded version needs model, version and state', { details: { field: 'loaded' } });
    }
    const out: LoadedVersion = { model: v.model.slice(0, 64), version: v.version!, sha256: typeof v.sha256 === 'string' ? v.sha256.slice(0, 64) : null, state: v.state.slice(0, 32) };
    if (typeof v.reason === 'string' && v.reason !== '') out.reason = v.reason.slice(0, MAX_REASON);
    if (typeof v.executionProvider === 'string' && v.executionProvider !== '') out.executionProvider = v.executionProvider.slice(0, 32);
    return out;
  });
}

/** An advertised URL: http(s), a host, no path beyond `/`, no credentials; null when none is given. */
function parseAdvertiseUrl(value: string | null | undefined): string | null {
  if (value === undefined || value === null || value === '') return null;
  const bad = (why: string): never => {
    throw new SluiceError('SLUICE_E_VALIDATION', `advertiseUrl ${why}`, { details: { field: 'advertiseUrl' } });
  };
  if (value.length > MAX_URL) bad(`is at most ${MAX_URL} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return bad(`must be an absolute http or https URL, got ${JSON.stringify(value.slice(0, 100))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') bad(`must be http or https, got ${url.protocol}`);
  if (url.username !== '' || url.password !== '') bad('must not carry credentials');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') bad('is a base URL (scheme://host:port), without path, query or fragment');
  return url.origin;
}

function toGateway(r: GatewayTable): Gateway {
  return {
    id: r.id,
    name: r.name,
    region: r.region,
    labels: JSON.parse(r.labels) as Record<string, string>,
    tokenId: r.token_id,
    registeredAt: r.registered_at,
    lastHeartbeatAt: r.last_heartbeat_at,
    loaded: JSON.parse(r.loaded) as LoadedVersion[],
    health: r.health as Health,
    healthMessage: r.health_message,
    advertiseUrl: r.advertise_url ?? null,
  };
}
