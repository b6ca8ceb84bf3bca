// The console's world for its browser test and its screenshot script: a real `sluice serve` (gateway
// and control plane as one process, example models registered), Debian's chromium driven by
// playwright-core (never a downloaded browser), and a few steps every page needs.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadWeather, weatherFeatures } from '../../examples/weather-dataset.js';
import { startSluice, type SluiceProcess } from './cli.js';
import { CLI, exampleModels } from './paths.js';
import { eventually } from './wait.js';

const run = promisify(execFile);
export const CHROMIUM = '/usr/bin/chromium';

export interface ConsoleStack {
  admin: string;
  gateway: string;
  controlPlane: string;
  proc: SluiceProcess;
  gql: (query: string, variables?: Record<string, unknown>, token?: string) => Promise<any>;
  /** Register weather/1's bytes again as a new version (a rollout candidate); its number. */
  uploadCandidate: () => Promise<number>;
  /** Send these weather feature rows to the gateway (in batches of 50). */
  infer: (rows: number[][]) => Promise<void>;
  stop: () => Promise<void>;
}

export async function startConsoleStack(dataDir: string, admin = 'sluice_console_test_admin_0123456789abcdef'): Promise<ConsoleStack> {
  const proc = await startSluice(['serve', '--gateway-port', '0', '--control-plane-port', '0', '--data', dataDir, '--log-format', 'json'], {
    env: { SLUICE_ADMIN_TOKEN: admin },
    expectListening: 2,
    timeoutMs: 180_000,
  });
  try {
    const ready = await eventually('the ready line', async () => {
      const line = proc.output().split('\n').find((l) => l.includes('"msg":"ready"'));
      return line ? (JSON.parse(line) as { gateway: string; controlPlane: string }) : undefined;
    }, 120_000);
    const gql = async (query: string, variables: Record<string, unknown> = {}, token = admin) => {
      const res = await fetch(`${ready.controlPlane}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
      const body = (await res.json()) as { data?: any; errors?: unknown[] };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    const stack: ConsoleStack = {
      admin,
      gateway: ready.gateway,
      controlPlane: ready.controlPlane,
      proc,
      gql,
      async uploadCandidate() {
        const file = join(exampleModels(), 'weather', '1', 'model.onnx');
        const { stdout } = await run(process.execPath, [CLI, 'upload', '--control-plane', ready.controlPlane, '--token', admin, '--model', 'weather', '--file', file, '--allow-duplicate', '--description', 'the same bytes, as a canary', '--log-level', 'silent']);
        return (JSON.parse(stdout.trim().split('\n').pop()!) as { version: number }).version;
      },
      async infer(rows) {
        for (let i = 0; i < rows.length; i += 50) {
          const batch = rows.slice(i, i + 50);
          const res = await fetch(`${ready.gateway}/v2/models/weather/infer`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ inputs: [{ name: 'features', shape: [batch.length, 5], datatype: 'FP32', data: batch.flat() }] }),
          });
          if (res.status !== 200) throw new Error(`infer answered ${res.status}: ${await res.text()}`);
        }
      },
      async stop() {
        if (proc.proc.exitCode === null) await proc.stop('SIGTERM');
      },
    };
    await eventually('the gateway serves weather', async () => ((await fetch(`${ready.gateway}/v2/models/weather/ready`)).status === 200 ? true : undefined), 120_000);
    return stack;
  } catch (err) {
    proc.proc.kill('SIGKILL');
    throw err;
  }
}

/** Weather rows as the profile saw them, and the same days 25 °C hotter and windier (a shifted climate). */
export function weatherRows(): { normal: number[][]; shifted: number[][] } {
  const normal = loadWeather().days.map(weatherFeatures);
  return { normal, shifted: normal.map(([p, tmax, tmin, wind, day]) => [p!, tmax! + 25, tmin! + 25, wind! * 3, day!]) };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Open the console and sign in with this token; resolves once the header names the principal. */
export async function signIn(page: Page, controlPlane: string, token: string): Promise<void> {
  await page.goto(`${controlPlane}/`);
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
}
