// Screenshots of every console page for docs/console/*.png: a real `sluice serve` with a canary
// paused at 50%, a finished training job, normal then shifted weather traffic, in Debian's chromium.
// Run after a build: node dist/scripts/console-screenshots.js [out-dir] (default docs/console).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, signIn, startConsoleStack, weatherRows } from '../test/helpers/console.js';
import { ROOT } from '../test/helpers/paths.js';

const out = process.argv[2] ?? join(ROOT, 'docs', 'console');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const data = mkdtempSync(join(tmpdir(), 'sluice-console-shots-'));
  const stack = await startConsoleStack(data);
  const browser = await launchChromium();
  try {
    const { normal, shifted } = weatherRows();
    await stack.infer(normal.slice(0, 400));
    const { submitTrainingJob: job } = await stack.gql(`mutation { submitTrainingJob(input: { model: "weather", trainer: { builtin: "weather-mlp" }, parameters: { epochs: 80 } }) { id } }`);
    const candidate = await stack.uploadCandidate();
    const { startRollout: rollout } = await stack.gql(`mutation($input: StartRolloutInput!) { startRollout(input: $input) { id } }`, {
      input: { model: 'weather', candidate, strategy: 'CANARY', steps: [{ setWeight: 10 }, { pause: { seconds: 4 } }, { setWeight: 50 }, { pause: {} }, { setWeight: 100 }] },
    });
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 })).newPage();
    await page.goto(`${stack.controlPlane}/`);
    await page.waitForSelector('input[name=token]');
    await page.screenshot({ path: join(out, 'sign-in.png') });
    await signIn(page, stack.controlPlane, stack.admin);
    const shot = async (hash: string, name: string, ready: string, waitMs = 1500, fullPage = false) => {
      await page.goto(`${stack.controlPlane}/#${hash}`);
      await page.waitForSelector(ready, { timeout: 120_000 });
      await sleep(waitMs);
      await page.screenshot({ path: join(out, `${name}.png`), fullPage });
      console.log(`${name}.png`);
    };
    await shot('/models', 'models', '[data-testid=models] tbody tr');
    await shot('/models/weather', 'model', '[data-testid=version-detail]');
    await sleep(6000);
    await shot(`/rollouts/${rollout.id}`, 'rollout', '[data-testid=weights]', 4000);
    await page.goto(`${stack.controlPlane}/#/training/${job.id}`);
    await page.waitForFunction(() => document.querySelector('[data-testid=job-status]')?.textContent === 'SUCCEEDED', undefined, { timeout: 300_000 });
    await shot(`/training/${job.id}`, 'training-job', '[data-chart=epoch-loss]');
    await stack.infer(shifted.slice(0, 1200));
    await sleep(12_000);
    // The whole page: the current window's histograms are below the PSI chart.
    await shot('/drift/weather/1', 'drift', '[data-chart=psi]', 3000, true);
    await shot('/fleet', 'fleet', '[data-testid=model-fleet-weather]');
    await shot('/audit', 'audit', '[data-testid=audit] tbody tr');
  } finally {
    await browser.close();
    await stack.stop();
    rmSync(data, { recursive: true, force: true });
  }
}

await main();
