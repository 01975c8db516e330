/**
 * Takes a screenshot of the built demo after a run in headless Chromium (see browser.ts) and
 * prints what the page reports: each optimizer's steps, seconds and last losses, the readout,
 * and any error. Build first (`npm run web:build`), then, from the repository root:
 *
 *   node --conditions=eva-tfjs-source --import tsx packages/web-demo/scripts/screenshot.ts \
 *     [--params 'backend=wasm&optimizers=sgd,eva'] [--out docs/web-demo.png]
 *
 * `autostart=1` is added to the parameters; without `--params` the run is the page's default
 * (on wasm, the backend a user without a GPU gets).
 */
import { parseArgs } from 'node:util';
import { launchChromium, runDemo, serveDemo, watchedPage } from './browser.js';

const { values } = parseArgs({
  options: {
    params: { type: 'string', default: 'backend=wasm' },
    out: { type: 'string', default: 'test-artifacts/web-demo.png' },
    timeout: { type: 'string', default: '1800' },
  },
});

async function main(): Promise<void> {
  const params = Object.fromEntries(new URLSearchParams(values.params));
  const server = await serveDemo();
  const browser = await launchChromium();
  try {
    const { page, consoleErrors } = await watchedPage(browser, 900);
    const started = Date.now();
    const state = await runDemo(
      page,
      server.url,
      { ...params, autostart: 1 },
      Number(values.timeout) * 1000,
    );
    console.log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s on ${state.backend}`);
    for (const run of state.runs) {
      const last = run.losses.slice(-10);
      const mean = last.reduce((a, b) => a + b, 0) / Math.max(1, last.length);
      console.log(
        `${run.name}: lr ${run.learningRate}, ${run.steps} steps in ${run.seconds.toFixed(1)} s, ` +
          `first loss ${run.losses[0]?.toFixed(4)}, mean of the last 10 ${mean.toFixed(4)}`,
      );
    }
    for (const r of state.readout) {
      const when = r.step == null ? 'not yet' : `step ${r.step}, ${r.seconds!.toFixed(1)} s`;
      console.log(`reached ${state.target}: ${r.name} ${when}`);
    }
    for (const error of [...state.errors, ...consoleErrors]) console.log(`error: ${error}`);
    await page.screenshot({ path: values.out!, fullPage: true });
    console.log(`wrote ${values.out}`);
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
