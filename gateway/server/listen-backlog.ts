// uWebSockets.js listens with uSockets' fixed backlog of 512 and has no setting for it. Under a burst
// of new connections (2x overload from open-loop clients) the kernel dropped the handshakes past it
// and each client retried a second later, past its call's deadline (docs/budgets.md). Linux lets a
// listening socket's backlog be changed by calling listen() again: the native addon does that.
import type { Logger } from '../../lib/log.js';
import { native } from '../../native/index.js';

/** Raise the accept queue of every listening socket of this process on `port` (I/O threads' included). */
export function raiseListenBacklog(port: number, backlog: number, logger: Logger): void {
  try {
    const changed = native().raiseListenBacklog(port, backlog);
    if (changed === 0) logger.warn({ port, backlog }, 'no listening socket found to raise the backlog of; it stays at 512');
  } catch (err) {
    logger.warn({ err, port, backlog }, 'the listen backlog stays at 512: the native addon could not raise it');
  }
}
