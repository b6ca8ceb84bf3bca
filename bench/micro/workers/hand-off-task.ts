// The piscina task of hand-off.ts: answers at once, moving the buffer back as the ORT worker does.
import { move } from 'piscina';

export default function task(t: { data: Float32Array }): unknown {
  return move(t.data as never);
}
