// The other live gateways of the fleet, as the control plane lists them in each desired state
// (`peers`: name and advertised URL of every gateway whose heartbeat is recent, this one left out),
// and this gateway's own name, owner tag and advertised URL. A standalone gateway has no name and
// no peers: its feedback stays local, exactly as without this module.
import type { Logger } from '../../lib/log.js';
import type { WirePeer } from '../../lib/sync-wire.js';
import { ownerTag } from './owner-ids.js';

export interface FeedbackPeer {
  name: string;
  /** Base URL (scheme://host:port, no trailing slash). */
  url: string;
  /** ownerTag(name): what the ids it makes end with. */
  tag: string;
}

/** A listen address that names no one host: the gateway cannot tell peers where to reach it. */
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

export class FeedbackPeers {
  /** This gateway's name under a control plane; undefined when standalone. */
  name: string | undefined;
  tag: string | undefined;
  /** --advertise-url, else derived from the listen address once it is bound; undefined: not reachable by peers. */
  advertiseUrl: string | undefined;
  #peers: FeedbackPeer[] = [];
  #byTag = new Map<string, FeedbackPeer>();

  /** Under a control plane: the gateway's name (its ids get its tag) and its --advertise-url, if given. */
  join(name: string, advertiseUrl: string | undefined): void {
    this.name = name;
    this.tag = ownerTag(name);
    if (advertiseUrl !== undefined) this.advertiseUrl = advertiseUrl.replace(/\/+$/, '');
  }

  /**
   * The listener is bound: without --advertise-url, a host that names one address is advertised
   * as it is; a wildcard is not (logged once: feedback for this gateway's answers cannot reach it).
   */
  listening(scheme: string, host: string, port: number, logger: Logger): void {
    if (this.name === undefined || this.advertiseUrl !== undefined) return;
    if (WILDCARDS.has(host)) {
      logger.warn({ host }, 'no --advertise-url and a wildcard listen address: other gateways cannot forward feedback for this gateway\'s answers to it');
      return;
    }
    this.advertiseUrl = `${scheme}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
  }

  /** The peers of the latest desired state (this gateway and entries that are not usable left out). */
  update(peers: readonly WirePeer[]): void {
    const list: FeedbackPeer[] = [];
    for (const p of peers) {
      if (p.name === this.name || !/^https?:\/\//.test(p.url)) continue;
      list.push({ name: p.name, url: p.url.replace(/\/+$/, ''), tag: ownerTag(p.name) });
    }
    this.#peers = list;
    this.#byTag = new Map(list.map((p) => [p.tag, p]));
  }

  get list(): readonly FeedbackPeer[] {
    return this.#peers;
  }

  byTag(tag: string): FeedbackPeer | undefined {
    return this.#byTag.get(tag);
  }
}
