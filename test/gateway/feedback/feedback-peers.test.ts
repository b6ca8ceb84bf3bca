// The peer list as a desired state brings it (fake control-plane data): this gateway and unusable
// entries left out, peers found by the tag of the ids they make; the advertised URL from the flag
// or the listen address, and none for a wildcard.
import t from 'tap';
import { createLogger } from '../../../lib/log.js';
import { FeedbackPeers } from '../../../gateway/feedback/feedback-peers.js';
import { ownerTag } from '../../../gateway/feedback/owner-ids.js';

const logger = createLogger('feedback-peers-test', 'silent');

t.test('peers: this gateway and non-http entries are left out, each found by its tag', async (t) => {
  const peers = new FeedbackPeers();
  peers.join('gw-0', undefined);
  t.equal(peers.tag, ownerTag('gw-0'));
  peers.update([
    { name: 'gw-0', url: 'http://10.0.0.1:8000' },
    { name: 'gw-1', url: 'http://10.0.0.2:8000/' },
    { name: 'gw-2', url: 'https://gw-2.example:8443' },
    { name: 'gw-3', url: 'ftp://10.0.0.4' },
  ]);
  t.same(peers.list.map((p) => [p.name, p.url]), [['gw-1', 'http://10.0.0.2:8000'], ['gw-2', 'https://gw-2.example:8443']]);
  t.equal(peers.byTag(ownerTag('gw-2'))?.name, 'gw-2');
  t.equal(peers.byTag(ownerTag('gw-0')), undefined, 'never itself');
  t.equal(peers.byTag(ownerTag('gw-3')), undefined);
  peers.update([]);
  t.same(peers.list, [], 'a peer gone stale leaves with the next state');
  t.equal(peers.byTag(ownerTag('gw-2')), undefined);
});

t.test('advertised URL: the flag wins, else the listen address, never a wildcard; nothing when standalone', async (t) => {
  const flagged = new FeedbackPeers();
  flagged.join('a', 'https://a.example:9000/');
  flagged.listening('http', '127.0.0.1', 8000, logger);
  t.equal(flagged.advertiseUrl, 'https://a.example:9000');

  const derived = new FeedbackPeers();
  derived.join('b', undefined);
  derived.listening('http', '10.1.2.3', 8001, logger);
  t.equal(derived.advertiseUrl, 'http://10.1.2.3:8001');

  const v6 = new FeedbackPeers();
  v6.join('c', undefined);
  v6.listening('https', '::1', 8002, logger);
  t.equal(v6.advertiseUrl, 'https://[::1]:8002');

  for (const host of ['0.0.0.0', '::']) {
    const wild = new FeedbackPeers();
    wild.join('d', undefined);
    wild.listening('http', host, 8003, logger);
    t.equal(wild.advertiseUrl, undefined, host);
  }

  const standalone = new FeedbackPeers();
  standalone.listening('http', '127.0.0.1', 8004, logger);
  t.equal(standalone.advertiseUrl, undefined);
  t.equal(standalone.tag, undefined);
});
