// Shared by the SIGTERM drain tests (drain.test.ts, io-threads-failure.test.ts): a `sluice gateway`
// process caught in its drain, with two slow calls still in flight.
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
