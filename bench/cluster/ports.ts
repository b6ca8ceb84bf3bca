// A free TCP port on 127.0.0.1, for a server a test starts in another process that cannot take
// port 0 and report back (PostgreSQL, a shell script of the docs).
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
