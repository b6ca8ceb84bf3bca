// What the generator drives: a place where one call at a time is in flight. Over HTTP/1.1 that is
// a keep-alive connection; over WebSocket, one of several concurrent calls sharing a socket.
import type { HttpResponse } from './response-parser.js';

export type CallDone = (err: Error | null, res: HttpResponse | null) => void;

export interface CallSlot {
  readonly busy: boolean;
  /** performance.now() when the call in flight must be given up (Infinity when idle). */
  deadline: number;
  /** performance.now() when the call in flight was intended to start. */
  intendedAt: number;
  send(request: Buffer, deadline: number, done: CallDone): void;
  /** Give up the call in flight (its deadline passed). */
  abandon(reason: Error): void;
  close(): void;
}
