import t from 'tap';
import { connect, type Socket } from 'node:net';
import { drainingGateway, PAGE_SIDE } from './drain-harness.js';

t.test('SIGTERM drains: readiness goes false, new calls get 503, in-flight calls finish, exit 0', async (t) => {
  const { gw, url, inFlight, ready } = await drainingGateway(t);
  t.equal(ready, 503, 'not ready while draining');
  const refused = await fetch(`${url}/v2/models/weather/infer`, {
    method: 'POST', body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [0, 1, 2, 3, 4] }] }),
  });
  t.equal(refused.status, 503);
  t.equal(((await refused.json()) as { code: string }).code, 'SLUICE_E_HTTP_DRAINING');
  t.equal(refused.headers.get('retry-after'), '1');
  const finished = await Promise.all(inFlight);
  t.same(finished.map((r) => r.status), [200, 200], 'in-flight calls finish');
  const body = (await finished[0]!.json()) as { outputs: { shape: number[] }[] };
  t.same(body.outputs[0]!.shape, [1, 1, PAGE_SIDE, PAGE_SIDE]);
  t.equal(await gw.exited, 0);
});

/**
 * One raw HTTP/1.1 connection kept open across calls: a test sees what happens to the connection
 * itself, where an HTTP client would hide a closed connection behind a new one.
 */
class KeepAliveConnection {
  readonly #socket: Socket;
  #received = Buffer.alloc(0);
  #arrived: (() => void) | undefined;
  /** How the gateway ended the connection: 'fin' (closed cleanly) or the socket error's code (ECONNRESET). */
  readonly ended: Promise<string>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#received = Buffer.concat([this.#received, chunk]);
      this.#arrived?.();
    });
    this.ended = new Promise((resolve) => {
      socket.once('end', () => resolve('fin'));
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
  }

  static open(url: string): Promise<KeepAliveConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => resolve(new KeepAliveConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** POST `body` to `path` and read the whole answer (Content-Length framed, as the gateway sends). */
  async post(path: string, body: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    this.#socket.write(`POST ${path} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    for (;;) {
      const end = this.#received.indexOf('\r\n\r\n');
      if (end >= 0) {
        const [statusLine, ...lines] = this.#received.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
        const length = Number(headers['content-length'] ?? 0);
        if (this.#received.length >= end + 4 + length) {
          const answer = { status: Number(statusLine!.split(' ')[1]), headers, body: this.#received.subarray(end + 4, end + 4 + length).toString() };
          this.#received = this.#received.subarray(end + 4 + length);
          return answer;
        }
      }
      await new Promise<void>((resolve, reject) => {
        this.#arrived = resolve;
        void this.ended.then((how) => reject(new Error(`the connection ended (${how}) before a whole answer`)));
      });
    }
  }
}

t.test('a keep-alive connection used during the drain is told Connection: close and closed cleanly; an idle one is closed, not reset', async (t) => {
  const weather = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [0, 1, 2, 3, 4] }] });
  let used: KeepAliveConnection | undefined;
  let idle: KeepAliveConnection | undefined;
  const { gw, inFlight } = await drainingGateway(t, [], async (url) => {
    [used, idle] = await Promise.all([KeepAliveConnection.open(url), KeepAliveConnection.open(url)]);
    const before = await used.post('/v2/models/weather/infer', weather);
    t.equal(before.status, 200, 'a call before SIGTERM is answered');
    t.not(before.headers.connection, 'close', 'and its connection is kept alive');
  });
  const during = await used!.post('/v2/models/weather/infer', weather);
  t.equal(during.status, 503);
  t.equal((JSON.parse(during.body) as { code: string }).code, 'SLUICE_E_HTTP_DRAINING');
  t.equal(during.headers.connection, 'close', 'the drain tells the client to stop reusing the connection');
  t.equal(await used!.ended, 'fin', 'and closes it cleanly after the answer');
  const finished = await Promise.all(inFlight);
  t.same(finished.map((r) => r.status), [200, 200], 'in-flight calls finish');
  t.equal(await gw.exited, 0);
  t.equal(await idle!.ended, 'fin', 'the connection idle through the drain is closed at the exit, not reset');
});
