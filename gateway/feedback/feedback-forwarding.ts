// Feedback behind a load balancer (docs/feedback.md "Behind a load balancer"): the call may reach
// any gateway, the answer is kept by the one that gave it. Each item is given an owner:
// - an id this gateway made (its owner tag), or any id it holds: here;
// - an id another gateway made: that gateway, found by the id's tag among the live peers;
// - a caller's id this gateway does not hold: the peer that says it holds it, asked of every peer
//   at once (a probe, PROBE_TIMEOUT_MS) — none: here, which answers it as unknown.
// A call for one item another gateway holds is sent there, and its answer comes back as it is. A
// batch is split by owner: the items held here are checked and applied as one batch (all or none),
// then each other owner's items go to it as one batch of their own. Each group is whole or nothing
// on its gateway; the batch as a whole is not (docs/feedback.md says so). A forwarded call carries
// FORWARDED_HEADER and is never forwarded again.
import { ERRORS, SluiceError, type ErrorCode } from '../../lib/errors.js';
import { tlsFetch, type Fetch } from '../../lib/tls-fetch.js';
import type { ClientTlsFiles } from '../../lib/tls.js';
import type { FeedbackItem } from './feedback-items.js';
import { MAX_FEEDBACK_ITEMS } from './feedback-items.js';
import type { FeedbackPeer, FeedbackPeers } from './feedback-peers.js';
import type { AcceptedFeedback, GroundTruth } from './ground-truth.js';
import { parseGeneratedId } from './owner-ids.js';

/** Marks a call one gateway sent another (its value: the sender's name); such a call is answered here. */
export const FORWARDED_HEADER = 'sluice-feedback-forwarded';
/** With FORWARDED_HEADER: `{"ids": [...]}` asks which of these ids this gateway holds; nothing is applied. */
export const PROBE_HEADER = 'sluice-feedback-probe';
/** How long a peer may take to say whether it holds a caller's id. */
export const PROBE_TIMEOUT_MS = 1000;
/** How long a peer may take to answer forwarded feedback. */
export const FORWARD_TIMEOUT_MS = 5000;
/** Retry-After of SLUICE_E_FEEDBACK_PEER_UNAVAILABLE: a peer that is restarting, or about to be dropped from the list. */
const RETRY_AFTER_S = 1;

export interface FeedbackRequest {
  model: string;
  version: string | undefined;
  items: FeedbackItem[];
  /** The call was `{"feedback": [...]}` (answers name items by their place in it). */
  batch: boolean;
  /** The caller's Authorization header ('' when none): forwarded unchanged, every gateway checks the same tokens. */
  authorization: string;
  /** The call came from another gateway: answer it here, never forward it again. */
  forwarded: boolean;
}

/** An HTTP answer: a peer's, passed back as it came, or this gateway's. */
export interface FeedbackReply {
  status: number;
  body: string;
  retryAfter?: string | undefined;
  /** What `body` lists as accepted, when this gateway wrote it (the WebSocket answer reuses it). */
  accepted?: AcceptedFeedback[];
}

export class FeedbackForwarding {
  readonly #truth: GroundTruth;
  readonly #peers: FeedbackPeers;
  #fetch: Fetch = tlsFetch(undefined);

  constructor(truth: GroundTruth, peers: FeedbackPeers) {
    this.#truth = truth;
    this.#peers = peers;
  }

  /** https peers are trusted by this CA (and shown this client certificate): the control plane's client TLS files. */
  setTls(files: ClientTlsFiles | undefined): void {
    this.#fetch = tlsFetch(files);
  }

  /** Join the items to their answers, here or on the gateways that hold them. */
  async give(r: FeedbackRequest): Promise<FeedbackReply> {
    if (r.forwarded || this.#peers.name === undefined) return accepted(this.#truth.give(r.model, r.version, r.items));
    const owners = await this.#owners(r);
    if (owners.every((o) => o === undefined)) return accepted(this.#truth.give(r.model, r.version, r.items));
    if (!r.batch) return this.#forward(owners[0]!, r, bodyOf(r.items, false), FORWARD_TIMEOUT_MS);
    return this.#split(r, owners);
  }

  /** A peer's probe: which of `ids` this gateway holds (answers, or tombstones of expired ones). */
  probe(model: string, version: string | undefined, body: unknown): FeedbackReply {
    const ids = (body as { ids?: unknown } | null)?.ids;
    if (!Array.isArray(ids) || ids.length > MAX_FEEDBACK_ITEMS || !ids.every((id) => typeof id === 'string')) {
      throw new SluiceError('SLUICE_E_HTTP_BAD_REQUEST', `a feedback probe is {"ids": [...]}, at most ${MAX_FEEDBACK_ITEMS} strings`);
    }
    return { status: 200, body: JSON.stringify({ known: (ids as string[]).map((id) => this.#truth.holds(model, version, id)) }) };
  }

  /** Per item, the peer that holds its answer, or undefined for this gateway. */
  async #owners(r: FeedbackRequest): Promise<(FeedbackPeer | undefined)[]> {
    const owners = new Array<FeedbackPeer | undefined>(r.items.length).fill(undefined);
    const ask: number[] = [];
    r.items.forEach((item, i) => {
      const owner = parseGeneratedId(item.id)?.owner;
      if (owner !== undefined) {
        if (owner === this.#peers.tag) return;
        const peer = this.#peers.byTag(owner);
        if (peer === undefined) {
          throw new SluiceError('SLUICE_E_FEEDBACK_PEER_UNAVAILABLE', `${where(r, i)}answer ${item.id} was given by a gateway (tag ${owner}) that is not among the live gateways`, {
            details: { tag: owner, ...(r.batch ? { item: i } : {}) }, retryAfter: RETRY_AFTER_S,
          });
        }
        owners[i] = peer;
      } else if (!this.#truth.holds(r.model, r.version, item.id)) {
        ask.push(i);
      }
    });
    const peers = this.#peers.list;
    if (ask.length === 0 || peers.length === 0) return owners;
    const ids = ask.map((i) => r.items[i]!.id);
    type ProbeAnswer = { peer: FeedbackPeer; known?: boolean[]; err?: SluiceError };
    const answers = await Promise.all(peers.map((peer): Promise<ProbeAnswer> => this.#probe(peer, r, ids).then((known) => ({ peer, known }), (err: unknown) => ({ peer, err: err as SluiceError }))));
    ask.forEach((i, k) => {
      const holder = answers.find((a) => a.known?.[k] === true);
      if (holder !== undefined) {
        owners[i] = holder.peer;
        return;
      }
      // Nobody reachable holds it: "unknown" only if every peer could say so.
      const down = answers.find((a) => a.err !== undefined);
      if (down !== undefined) throw down.err!;
    });
    return owners;
  }

  async #probe(peer: FeedbackPeer, r: FeedbackRequest, ids: string[]): Promise<boolean[]> {
    const reply = await this.#post(peer, r, JSON.stringify({ ids }), PROBE_TIMEOUT_MS, true);
    if (reply.status >= 500) throw unavailable(peer, `answered ${reply.status}`);
    if (reply.status !== 200) return ids.map(() => false);
    const known = (JSON.parse(reply.body) as { known?: unknown }).known;
    return Array.isArray(known) ? known.map((k) => k === true) : ids.map(() => false);
  }

  /** A batch whose items several gateways hold: the local group first (all or nothing), then one batch per peer. */
  async #split(r: FeedbackRequest, owners: (FeedbackPeer | undefined)[]): Promise<FeedbackReply> {
    const groups = new Map<FeedbackPeer | undefined, number[]>();
    owners.forEach((o, i) => {
      let g = groups.get(o);
      if (g === undefined) groups.set(o, (g = []));
      g.push(i);
    });
    const results = new Array<AcceptedFeedback | undefined>(r.items.length);
    const local = groups.get(undefined);
    if (local !== undefined) {
      const done = this.#truth.give(r.model, r.version, local.map((i) => r.items[i]!), local);
      local.forEach((i, k) => (results[i] = done[k]));
    }
    const remote = [...groups.entries()].filter((e): e is [FeedbackPeer, number[]] => e[0] !== undefined);
    const replies = await Promise.all(remote.map(([peer, at]) =>
      this.#forward(peer, r, bodyOf(at.map((i) => r.items[i]!), true), FORWARD_TIMEOUT_MS).catch((err: unknown) => replyOf(err as SluiceError))));
    let failed: { peer: FeedbackPeer; at: number[]; reply: FeedbackReply } | undefined;
    replies.forEach((reply, g) => {
      const [peer, at] = remote[g]!;
      if (reply.status === 200) {
        const list = (JSON.parse(reply.body) as { accepted: AcceptedFeedback[] }).accepted;
        at.forEach((i, k) => (results[i] = list[k]));
      } else {
        failed ??= { peer, at, reply };
      }
    });
    const applied = results.filter((a): a is AcceptedFeedback => a !== undefined);
    if (failed === undefined) return accepted(applied);
    // The other groups are applied already: the answer says which items failed and what was accepted.
    const { peer, at, reply } = failed;
    const e = errorOf(reply);
    const code = e.code ?? 'SLUICE_E_FEEDBACK_PEER_UNAVAILABLE';
    return {
      status: reply.status,
      retryAfter: reply.retryAfter,
      body: JSON.stringify({
        error: `feedback${JSON.stringify(at)} (held by gateway ${peer.name}) refused: ${e.error ?? `status ${reply.status}`}`,
        code,
        details: { peer: peer.name, items: at },
        accepted: applied,
      }),
    };
  }

  /** Send feedback to the peer that holds it; its answer comes back as it is. */
  #forward(peer: FeedbackPeer, r: FeedbackRequest, body: string, timeoutMs: number): Promise<FeedbackReply> {
    return this.#post(peer, r, body, timeoutMs, false);
  }

  async #post(peer: FeedbackPeer, r: FeedbackRequest, body: string, timeoutMs: number, probe: boolean): Promise<FeedbackReply> {
    const version = r.version === undefined ? '' : `/versions/${encodeURIComponent(r.version)}`;
    const headers: Record<string, string> = { 'content-type': 'application/json', [FORWARDED_HEADER]: this.#peers.name ?? '' };
    if (r.authorization !== '') headers.authorization = r.authorization;
    if (probe) headers[PROBE_HEADER] = '1';
    try {
      const res = await this.#fetch(`${peer.url}/v2/models/${encodeURIComponent(r.model)}${version}/feedback`, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
      return { status: res.status, body: await res.text(), retryAfter: res.headers.get('retry-after') ?? undefined };
    } catch (err) {
      const timedOut = (err as Error | undefined)?.name === 'TimeoutError';
      throw unavailable(peer, timedOut ? `did not answer within ${timeoutMs} ms` : 'could not be reached', err);
    }
  }
}

function where(r: FeedbackRequest, i: number): string {
  return r.batch ? `feedback[${i}]: ` : '';
}

function unavailable(peer: FeedbackPeer, why: string, cause?: unknown): SluiceError {
  return new SluiceError('SLUICE_E_FEEDBACK_PEER_UNAVAILABLE', `gateway ${peer.name} (${peer.url}), which holds the answer, ${why}`, {
    cause, details: { peer: peer.name }, retryAfter: RETRY_AFTER_S,
  });
}

function accepted(list: AcceptedFeedback[]): FeedbackReply {
  return { status: 200, body: JSON.stringify({ accepted: list }), accepted: list };
}

function replyOf(e: SluiceError): FeedbackReply {
  return { status: e.status, body: JSON.stringify(e.toJSON()), retryAfter: e.retryAfter === undefined ? undefined : String(e.retryAfter) };
}

/** The items as a feedback body (a label given alone travels as a list of one: the same thing). */
function bodyOf(items: readonly FeedbackItem[], batch: boolean): string {
  const wire = items.map((it) => (it.labels !== undefined ? { id: it.id, labels: it.labels } : { id: it.id, values: it.values }));
  return JSON.stringify(batch ? { feedback: wire } : wire[0]);
}

function errorOf(reply: FeedbackReply): { error?: string; code?: ErrorCode } {
  try {
    const body = JSON.parse(reply.body) as { error?: unknown; code?: unknown };
    const code = typeof body.code === 'string' && body.code in ERRORS ? (body.code as ErrorCode) : undefined;
    return { error: typeof body.error === 'string' ? body.error : undefined, code };
  } catch {
    return {};
  }
}

/** A reply that is not 200 as the error it carries (the WebSocket answers with an error frame). */
export function replyError(reply: FeedbackReply): SluiceError {
  const e = errorOf(reply);
  const retryAfter = reply.retryAfter === undefined ? undefined : Number(reply.retryAfter);
  if (e.code !== undefined) return new SluiceError(e.code, e.error, { retryAfter: Number.isFinite(retryAfter) ? retryAfter : undefined });
  return new SluiceError('SLUICE_E_FEEDBACK_PEER_UNAVAILABLE', `the gateway that holds the answer answered ${reply.status}`, { retryAfter: RETRY_AFTER_S });
}
