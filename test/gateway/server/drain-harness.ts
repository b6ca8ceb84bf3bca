// Shared by the SIGTERM drain tests (drain.test.ts, io-threads-failure.test.ts): a `sluice gateway`
// process caught in its drain, with two slow calls still in flight, and a raw keep-alive connection
// to watch what the drain does to a connection itself.
import { connect, type Socket } from 'node:net';
import type { Test } from 'tap';
import { startSluice, type SluiceProcess } from '../../helpers/cli.js';
import { binaryRequest, copyModels } from '../gateway-harness.js';

/** The side of the pages sent to text-detection: large pages keep the detector busy for a while, so the drain has something to wait for. */
export const PAGE_SIDE = 1280;

export interface DrainingGateway {
  gw: SluiceProcess;
  url: string;
  /** The two text-detection calls that were in flight when SIGTERM came. */
  inFlight: Promise<Response>[];
  /** The first readiness status after SIGTERM that is not 200. */
  ready: number;
}

/**
 * Start `sluice gateway` (weather and text-detection, a 60 s drain timeout, no lag shedding, `flags` added), run
 * `serving` with its URL, put two text-detection calls in flight, send SIGTERM and wait until readiness stops
 * answering 200.
 */
export async function drainingGateway(t: Test, flags: string[] = [], serving?: (url: string) => Promise<void>): Promise<DrainingGateway> {
  const models = copyModels(t, ['weather', 'text-detection']);
  // Lag shedding off: the two large pages keep both cores busy, and on a loaded machine the loop then
  // lags past 50 ms; the front would answer its own 503 (SLUICE_E_BUDGET_OVERLOADED) before the
  // drain's, and the drain's answer is what these tests check.
  const gw = await startSluice(['gateway', '--models', models, '--port', '0', ...flags, '--drain-timeout-ms', '60000', '--max-event-loop-lag-ms', '0']);
  t.teardown(() => {
    if (gw.proc.exitCode === null) gw.proc.kill('SIGKILL');
  });
  const url = gw.urls[0]!;
  await serving?.(url);
  const image = new Float32Array(3 * PAGE_SIDE * PAGE_SIDE).fill(0.25);
  const req = binaryRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, PAGE_SIDE, PAGE_SIDE], parameters: { binary_data_size: image.byteLength } }] }, [image]);
  const inFlight = [0, 1].map(() => fetch(`${url}/v2/models/text-detection/infer`, { method: 'POST', headers: req.headers, body: req.body }));
  for (;;) {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    if (metrics.includes('sluice_inference_in_flight{model="text-detection",version="1"} 2')) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  gw.proc.kill('SIGTERM');
  let ready = 200;
  while (ready === 200) ready = (await fetch(`${url}/v2/health/ready`)).status;
  return { gw, url, inFlight, ready };
}

/**
 * One raw HTTP/1.1 connection kept open across calls: a test sees what happens to the connection
 * itself, where an HTTP client would hide a closed connection behind a new one.
 */
export class KeepAliveConnection {
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
