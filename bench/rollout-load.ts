// Open-loop load for rollouts: `rate` weather calls per second spread over the gateways, sent on
// schedule whatever the answers take (a slow or rolling-back fleet cannot slow the client down),
// each answer recorded with its status and the model_version that answered it. The rollout
// end-to-end tests and docs/rollouts.md use it; run alone it prints a JSON summary:
//   node dist/bench/rollout-load.js --gateway URL[,URL] --rate 100 --seconds 30
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { loadWeather, weatherFeatures } from '../examples/weather-dataset.js';
import { SluiceError } from '../lib/errors.js';
import { defineCommand, helpText, parseFlags } from '../lib/flags.js';

export interface RolloutCall {
  /** Index into the gateway list. */
  gateway: number;
  /** Epoch ms. */
  sentAt: number;
  doneAt: number;
  /** 0 when the connection failed. */
  status: number;
  version: string | undefined;
  /** `<code>: <message>` of a non-200 answer. */
  error?: string;
}

const TICK_MS = 5;

export class RolloutLoad {
  readonly calls: RolloutCall[] = [];
  readonly #rows: number[][];
  #timer: NodeJS.Timeout | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #sent = 0;

  constructor(
    private readonly gateways: readonly string[],
    private readonly rate: number,
    private readonly model = 'weather',
  ) {
    if (gateways.length === 0 || !(rate > 0)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', 'rollout load needs at least one gateway and a rate above 0', { details: { flag: 'rate' } });
    this.#rows = loadWeather().days.map(weatherFeatures);
  }

  start(): this {
    const started = Date.now();
    const tick = () => {
      const due = Math.floor(((Date.now() - started) * this.rate) / 1000);
      while (this.#sent < due) this.#send(this.#sent++);
      this.#timer = setTimeout(tick, TICK_MS);
    };
    tick();
    return this;
  }

  #send(i: number): void {
    const gateway = i % this.gateways.length;
    // A stride through the real days, so every class of weather is asked for.
    const row = this.#rows[(i * 7919) % this.#rows.length]!;
    const body = JSON.stringify({ inputs: [{ name: 'features', shape: [1, row.length], datatype: 'FP32', data: row }] });
    const sentAt = Date.now();
    const p = fetch(`${this.gateways[gateway]}/v2/models/${this.model}/infer`, { method: 'POST', body })
      .then(async (res) => {
        const answer = (await res.json().catch(() => ({}))) as { model_version?: string; code?: string; error?: string };
        const call: RolloutCall = { gateway, sentAt, doneAt: Date.now(), status: res.status, version: answer.model_version };
        if (res.status !== 200) call.error = `${answer.code}: ${answer.error}`;
        this.calls.push(call);
      })
      .catch((err: unknown) => {
        this.calls.push({ gateway, sentAt, doneAt: Date.now(), status: 0, version: undefined, error: String(err) });
      })
      .finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  /** Stop sending and wait for the answers still on their way. */
  async stop(): Promise<RolloutCall[]> {
    clearTimeout(this.#timer);
    await Promise.all([...this.#inFlight]);
    return this.calls;
  }
}

export interface LoadSummary {
  calls: number;
  byStatus: Record<string, number>;
  byVersion: Record<string, number>;
  /** Per version, when its last answer arrived (ISO time). */
  lastAnswer: Record<string, string>;
  errors: Record<string, number>;
}

export function summarize(calls: readonly RolloutCall[]): LoadSummary {
  const out: LoadSummary = { calls: calls.length, byStatus: {}, byVersion: {}, lastAnswer: {}, errors: {} };
  const last: Record<string, number> = {};
  for (const c of calls) {
    out.byStatus[c.status] = (out.byStatus[c.status] ?? 0) + 1;
    if (c.version !== undefined) {
      out.byVersion[c.version] = (out.byVersion[c.version] ?? 0) + 1;
      last[c.version] = Math.max(last[c.version] ?? 0, c.doneAt);
    }
    if (c.error !== undefined) out.errors[c.error] = (out.errors[c.error] ?? 0) + 1;
  }
  for (const [v, at] of Object.entries(last)) out.lastAnswer[v] = new Date(at).toISOString();
  return out;
}

const COMMAND = defineCommand({
  name: 'rollout-load',
  usage: 'node dist/bench/rollout-load.js',
  summary: 'Open-loop weather calls at a fixed rate over gateways; prints counts by status and answering version.',
  envPrefix: 'ROLLOUT_LOAD_',
  flags: {
    gateway: { type: 'list', required: true, placeholder: 'url,...', description: 'gateway URLs (calls alternate among them)' },
    rate: { type: 'int', default: 100, description: 'calls per second in all' },
    seconds: { type: 'int', default: 30, description: 'how long to send' },
    model: { type: 'string', default: 'weather', description: 'model name' },
  },
});

async function main(argv: string[]): Promise<void> {
  const parsed = parseFlags(COMMAND, argv);
  if (parsed.help) {
    process.stdout.write(helpText(COMMAND));
    return;
  }
  const v = parsed.values;
  const load = new RolloutLoad(v.gateway, v.rate, v.model).start();
  await new Promise((res) => setTimeout(res, v.seconds * 1000));
  process.stdout.write(`${JSON.stringify(summarize(await load.stop()))}\n`);
}

// Run as a script (through a symlinked dist/ too), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`rollout-load: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
