// The console end to end in a real browser (Debian's chromium, playwright-core) against a real
// `sluice serve`: sign in, the example models, a canary watched step by step and aborted, a viewer
// who sees no buttons, a drift chart and the current window's histograms that move while shifted
// weather data is replayed, and the fleet with each gateway's recent traffic and a per-model view.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ROOT } from '../helpers/paths.js';
import { launchChromium, signIn, startConsoleStack, weatherRows, type ConsoleStack } from '../helpers/console.js';
import { eventually } from '../helpers/wait.js';

let stack: ConsoleStack;
let browser: Browser;
// Not t.testdir(): tap's own removal of it once failed (ENOTEMPTY) right after `sluice serve`
// exited, failing a run whose tests had all passed. This one is removed with retries.
const dataDir = mkdtempSync(join(tmpdir(), 'sluice-console-'));

t.before(async () => {
  stack = await startConsoleStack(dataDir);
  browser = await launchChromium();
});
t.teardown(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
});

/** PSI of a page's current counts against the reference proportions (the control plane's epsilon). */
function psiOf(reference: number[], counts: number[]): number {
  const rows = counts.reduce((a, b) => a + b, 0);
  return reference.reduce((sum, r, i) => {
    const e = Math.max(r, 1e-4);
    const a = Math.max(counts[i]! / rows, 1e-4);
    return sum + (a - e) * Math.log(a / e);
  }, 0);
}

/** Each feature card's reference proportions and current counts, as the drift page shows them. */
async function histograms(page: Page): Promise<Map<string, { reference: number[]; current: number[] }>> {
  const cards = await page.$$eval('[data-feature]', (els) => els.map((e) => [e.getAttribute('data-feature'), e.getAttribute('data-reference'), e.getAttribute('data-current')] as const));
  const numbers = (s: string | null) => (s ? s.split(',').map(Number) : []);
  return new Map(cards.map(([f, r, c]) => [f!, { reference: numbers(r), current: numbers(c) }]));
}

/** The largest PSI of the current histograms, once every input feature has one. */
async function histogramPsi(page: Page): Promise<number | undefined> {
  const h = [...(await histograms(page)).values()].filter((x) => x.current.length > 0);
  return h.length >= 5 ? Math.max(...h.map((x) => psiOf(x.reference, x.current))) : undefined;
}

async function newPage(): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on('dialog', (d) => void d.accept());
  return page;
}

t.test('the console is served with index.html no-cache and content-hashed files cached for a year', async (t) => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'dist', 'console', 'manifest.json'), 'utf8')) as { js: { file: string; gzip: number } };
  t.ok(manifest.js.gzip < 300 * 1024, `the page's JS is ${manifest.js.gzip} bytes gzipped, under 300 KB`);
  for (const path of ['/', '/console/', '/console/rollouts']) {
    const res = await fetch(`${stack.controlPlane}${path}`);
    t.equal(res.status, 200, path);
    t.equal(res.headers.get('cache-control'), 'no-cache', `${path} is revalidated`);
    t.match(res.headers.get('content-security-policy'), /script-src 'self'/);
    t.match(await res.text(), manifest.js.file, `${path} names the current bundle`);
  }
  const js = await fetch(`${stack.controlPlane}/console/${manifest.js.file}`);
  t.equal(js.status, 200);
  t.match(js.headers.get('cache-control'), /max-age=31536000, immutable/);
  t.match(js.headers.get('content-type'), /javascript/);
  const stale = await fetch(`${stack.controlPlane}/console/app-AAAAAAAA.js`);
  t.equal(stale.status, 404);
  t.equal(((await stale.json()) as { code: string }).code, 'SLUICE_E_HTTP_NOT_FOUND');
  const post = await fetch(`${stack.controlPlane}/`, { method: 'POST', body: 'x' });
  t.equal(post.status, 405);
  t.equal(((await post.json()) as { code: string }).code, 'SLUICE_E_HTTP_METHOD_NOT_ALLOWED');
});

t.test('a wrong token is refused with its code; the admin token signs in and lists the example models', async (t) => {
  const page = await newPage();
  await page.goto(`${stack.controlPlane}/`);
  await page.fill('input[name=token]', 'sluice_not_a_token');
  await page.click('button[type=submit]');
  await page.waitForSelector('.failure');
  t.match(await page.textContent('.failure'), /SLUICE_E_AUTH_/);
  t.equal(await page.evaluate(() => sessionStorage.getItem('sluice.token')), null, 'a refused token is not kept');
  await page.fill('input[name=token]', stack.admin);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=models] tbody tr');
  const models = await page.$$eval('[data-testid=models] tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
  t.same(models.sort(), ['text-detection', 'text-direction', 'weather']);
  t.match(await page.textContent('[data-testid=who]'), /admin/);
  await page.click('text=weather');
  await page.waitForSelector('[data-testid=version-detail]');
  t.match(await page.textContent('[data-testid=aliases]'), /production/);
  t.match(await page.textContent('[data-testid=version-detail]'), /features/, 'the signature names the input');
  await page.reload();
  await page.waitForSelector('[data-testid=version-detail]');
  t.pass('the token survives a reload of the tab (sessionStorage)');
  await page.context().close();
});

t.test('an operator watches a canary move to its next weight and aborts it; a viewer sees no buttons', async (t) => {
  const candidate = await stack.uploadCandidate();
  const { startRollout } = await stack.gql(`mutation($input: StartRolloutInput!) { startRollout(input: $input) { id } }`, {
    input: { model: 'weather', candidate, strategy: 'CANARY', steps: [{ setWeight: 20 }, { pause: { seconds: 15 } }, { setWeight: 50 }, { pause: {} }] },
  });
  const page = await newPage();
  await signIn(page, stack.controlPlane, stack.admin);
  await page.goto(`${stack.controlPlane}/#/rollouts/${startRollout.id}`);
  await page.waitForSelector('[data-testid=weights]');
  await page.waitForFunction(() => document.querySelector('[data-testid=weights]')?.textContent?.includes('20%'), undefined, { timeout: 60_000 });
  t.pass('the first step is shown at 20%');
  // Nothing reloads the page: the weight changes because rolloutChanged pushes the next step.
  await page.waitForFunction(() => document.querySelector('[data-testid=weights]')?.textContent?.includes('50%'), undefined, { timeout: 60_000 });
  t.match(await page.textContent('[data-testid=steps] li.current'), /pause until resumed/);

  const { createToken } = await stack.gql(`mutation { createToken(input: { name: "watcher", role: VIEWER }) { secret } }`);
  const viewer = await newPage();
  await signIn(viewer, stack.controlPlane, createToken.secret);
  await viewer.goto(`${stack.controlPlane}/#/rollouts/${startRollout.id}`);
  await viewer.waitForSelector('[data-testid=weights]');
  t.equal(await viewer.locator('.actions button').count(), 0, 'a viewer sees no promote/pause/abort');
  t.equal(await viewer.locator('header nav a', { hasText: 'Audit' }).count(), 0, 'nor the audit log');
  await viewer.context().close();

  await page.click('button:has-text("Abort")');
  await page.waitForFunction(() => document.querySelector('[data-testid=phase]')?.textContent === 'ABORTED', undefined, { timeout: 30_000 });
  const { rollout } = await stack.gql(`query($id: ID!) { rollout(id: $id) { phase weight abortReason } }`, { id: startRollout.id });
  t.same(rollout, { phase: 'ABORTED', weight: 0, abortReason: 'aborted from the console' });
  t.equal(await page.locator('.actions button').count(), 0, 'a finished rollout offers no buttons');
  await page.context().close();
});

t.test('the drift chart and the current histograms move while shifted data is replayed through the gateway', async (t) => {
  const { normal, shifted } = weatherRows();
  const page = await newPage();
  await signIn(page, stack.controlPlane, stack.admin);
  await stack.infer(normal.slice(0, 400));
  await page.goto(`${stack.controlPlane}/#/drift/weather/1`);
  await page.waitForSelector('.card.small .chart', { timeout: 30_000 });
  t.ok(await page.locator('.card.small').count() >= 5, 'a reference histogram per input feature');
  const calm = await eventually('a first PSI figure', async () => {
    const v = await page.getAttribute('[data-testid=psi-latest]', 'data-max-psi').catch(() => null);
    return v ? Number(v) : undefined;
  }, 90_000);
  t.ok(calm < 0.2, `PSI on the reference's own days stays low (${calm})`);
  const calmHistograms = await eventually('a current histogram of every input feature', () => histogramPsi(page), 60_000);
  t.ok(calmHistograms < 0.2, `the current histograms lie on the reference (PSI ${calmHistograms})`);
  const calmCounts = (await histograms(page)).get('temp_max')!.current;
  t.equal(calmCounts.length, (await histograms(page)).get('temp_max')!.reference.length, 'one count per reference bin');
  const before = Number(await page.getAttribute('[data-chart=psi]', 'data-points'));
  await stack.infer(shifted.slice(0, 1200));
  const hot = await eventually('the PSI of the shifted days', async () => {
    const v = Number(await page.getAttribute('[data-testid=psi-latest]', 'data-max-psi'));
    return v > 0.2 ? v : undefined;
  }, 90_000);
  t.ok(hot > calm, `PSI rose from ${calm} to ${hot}`);
  t.ok(Number(await page.getAttribute('[data-chart=psi]', 'data-points')) > before, 'the chart gained points without a reload');
  const hotHistograms = await eventually('current histograms of the shifted days', async () => {
    const v = await histogramPsi(page);
    return v !== undefined && v > 0.2 ? v : undefined;
  }, 90_000);
  t.ok(hotHistograms > calmHistograms, `the current histograms moved off the reference: PSI ${calmHistograms} -> ${hotHistograms}`);
  const hotCounts = (await histograms(page)).get('temp_max')!.current;
  t.notSame(hotCounts, calmCounts, 'temp_max\'s counts changed without a reload');
  t.ok(hotCounts.at(-1)! / hotCounts.reduce((a, b) => a + b, 0) > calmCounts.at(-1)! / calmCounts.reduce((a, b) => a + b, 0), 'a hotter climate fills the top temp_max bin');
  await page.context().close();
});

t.test('the fleet, training and audit pages show what the control plane has', async (t) => {
  const page = await newPage();
  await signIn(page, stack.controlPlane, stack.admin);
  const { normal } = weatherRows();
  await stack.infer(normal.slice(0, 200)); // 4 calls of 50 rows
  const { gateways } = await stack.gql('{ gateways { edges { node { name region } } } }');
  const gw = gateways.edges[0].node as { name: string; region: string };
  await page.goto(`${stack.controlPlane}/#/fleet`);
  await page.waitForSelector('[data-testid=gateways] tbody tr');
  const row = `[data-testid=gateways] tr[data-gateway="${gw.name}"]`;
  t.match(await page.textContent(row), /CONNECTED/);
  t.match(await page.textContent(row), /weather v1 cpu/, 'a loaded version names its execution provider');
  const callsPerSecond = await eventually('the gateway\'s recent calls/s', async () => {
    const v = Number(await page.textContent(`${row} [data-testid=calls-per-second]`));
    return v > 0 ? v : undefined;
  }, 30_000);
  t.ok(callsPerSecond > 0, `calls/s over the last minute counts the calls just sent (${callsPerSecond})`);
  t.ok(Number(await page.textContent(`${row} [data-testid=p99]`)) > 0, 'and their p99');
  const weather = '[data-testid=model-fleet-weather] tr[data-version="1"]';
  await page.waitForSelector(weather);
  const served = await page.textContent(weather);
  t.match(served, /1 of 1/, 'v1 served by the one connected gateway');
  t.match(served, new RegExp(`${gw.name}.*cpu`), 'the per-model view names the gateway and its execution provider');
  await page.goto(`${stack.controlPlane}/#/audit`);
  await page.waitForSelector('[data-testid=verification]');
  t.match(await page.textContent('[data-testid=verification]'), /chain verified/);
  await page.fill('input[name=action]', 'rollout.abort');
  await page.click('button:has-text("Filter")');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=audit] tbody tr')].length === 1, undefined, { timeout: 10_000 });
  t.match(await page.textContent('[data-testid=audit] tbody'), /rollout\.abort/, 'the filter keeps the abort only');
  await page.context().close();
});

t.test('a training job streams its log lines and draws its loss per epoch as it trains', async (t) => {
  const { submitTrainingJob } = await stack.gql(`mutation { submitTrainingJob(input: { model: "weather", trainer: { builtin: "weather-mlp" }, parameters: { epochs: 60 } }) { id } }`);
  const page = await newPage();
  await signIn(page, stack.controlPlane, stack.admin);
  await page.goto(`${stack.controlPlane}/#/training/${submitTrainingJob.id}`);
  await page.waitForSelector('[data-chart=epoch-loss]', { timeout: 120_000 });
  await page.waitForFunction(() => document.querySelector('[data-testid=job-status]')?.textContent === 'SUCCEEDED', undefined, { timeout: 180_000 });
  t.equal(Number(await page.getAttribute('[data-chart=epoch-loss]', 'data-points')), 60, 'one loss point per epoch');
  t.match(await page.textContent('[data-testid=logs]'), /"epoch":60/, 'the last epoch\'s line arrived');
  await page.context().close();
});
