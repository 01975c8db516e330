/**
 * End-to-end test of the web demo in headless Chromium (see scripts/browser.ts): the built page
 * loads with its defaults (SGD and Eva at their tuned learning rates, marked "tuned", behind the
 * default warm-up) and trains on wasm past the steps where Eva's loss jumped without one: no
 * loss rises more than 10% above the first, no 10-step mean more than 10% above the lowest before
 * it (loss-rise.ts), both fall (Eva faster), the charts, reconstructions and the "time to reach
 * loss X" readout render, the controls' row has no empty band, the console stays free of errors,
 * and a screenshot is saved to test-artifacts/web-demo.png. Run by `npm run test:web` (which
 * builds the page).
 */
import { mkdirSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoState, launchChromium, runDemo, serveDemo, watchedPage } from '../scripts/browser.js';
import { largestRise } from '../src/loss-rise.js';
import { DEFAULT_SETTINGS, TUNED_LEARNING_RATES } from '../src/tuned-settings.js';

/**
 * Steps the test trains: past the steps where Eva's loss leaves its starting plateau (10-30),
 * where it jumps without a long enough warm-up (to 4.2x its first loss at step 10 without one).
 */
const STEPS = 50;

test('the demo trains SGD and Eva with its defaults in Chromium: no spike, losses fall, everything renders', async () => {
  const server = await serveDemo();
  const browser = await launchChromium();
  try {
    const { page, consoleErrors } = await watchedPage(browser);
    const state = await runDemo(
      page,
      server.url,
      { backend: 'wasm', steps: STEPS, autostart: 1 },
      300_000,
    );
    assert.deepEqual(state.errors, []);
    assert.equal(state.backend, 'wasm');
    assert.deepEqual(
      state.runs.map((r) => [r.name, r.learningRate]),
      ['sgd', 'eva'].map((name) => [name, TUNED_LEARNING_RATES.autoencoder[name]!.learningRate]),
    );
    assert.equal(await page.inputValue('#warmup'), String(DEFAULT_SETTINGS.warmupSteps));
    const marks = await page.locator('.tuned').allTextContents();
    assert.deepEqual(marks, ['tuned', 'tuned']);
    for (const run of state.runs) {
      assert.equal(run.steps, STEPS);
      const first = run.losses[0]!;
      const highest = Math.max(...run.losses.slice(1));
      const rise = largestRise(run.losses);
      assert.ok(
        highest <= 1.1 * first && rise.ratio <= 1.1,
        `${run.name} spiked (rise ${JSON.stringify(rise)}): ${run.losses.map((l) => l.toFixed(2))}`,
      );
      // Both fall; Eva has left the starting plateau (0.69 of the first loss on this data),
      // SGD is still leaving it (0.90).
      const last = run.losses.slice(-10).reduce((a, b) => a + b) / 10;
      const falls = run.name === 'eva' ? 0.8 : 0.95;
      assert.ok(last < falls * first, `${run.name}: ${first} -> ${last}`);
    }
    assert.ok(state.reconstructionsDrawn > 0);
    assert.equal(state.target, DEFAULT_SETTINGS.target.autoencoder);
    assert.deepEqual(
      state.readout.map((r) => r.name),
      ['sgd', 'eva'],
    );
    const readout = await page.locator('#readout-rows tr').allTextContents();
    assert.equal(readout.length, 2);
    state.readout.forEach((r, i) => {
      const shown = r.step == null ? 'not yet' : String(r.step);
      assert.ok(readout[i]!.includes(shown), `readout row ${readout[i]} shows ${shown}`);
    });
    const inked = await page.evaluate(() => {
      const ink = (canvas: HTMLCanvasElement) => {
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        let count = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i]! < 250 || data[i + 3]! === 0) count++;
        return count;
      };
      const charts = ['loss-steps', 'loss-time'].map((id) => {
        const canvas = document.getElementById(id) as HTMLCanvasElement;
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        let colored = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 3]! > 0 && Math.abs(data[i]! - data[i + 2]!) > 60) colored++;
        }
        return colored;
      });
      const digits = [...document.querySelectorAll<HTMLCanvasElement>('#rows canvas')].map(ink);
      return { charts, digits };
    });
    assert.ok(
      inked.charts.every((n) => n > 100),
      `loss curves drawn: ${inked.charts}`,
    );
    assert.equal(
      inked.digits.length,
      3 * 8,
      'test digits plus one reconstruction row per optimizer',
    );
    assert.ok(
      inked.digits.every((n) => n > 0),
      'every digit canvas is drawn',
    );
    // The optimizer list and the per-optimizer fields share a row, one gap apart, the fields
    // reaching the row's right edge (no empty band), the row no taller than its contents need.
    const layout = await page.evaluate(() => {
      const box = (selector: string) => {
        const { top, left, right, height } = document
          .querySelector(selector)!
          .getBoundingClientRect();
        return { top, left, right, height };
      };
      return {
        row: box('.controls-row'),
        list: box('#optimizer-list'),
        options: box('#option-controls'),
        contents: [box('#optimizers').height, box('#optimizer-options').height],
      };
    });
    const { row, list, options, contents } = layout;
    assert.equal(list.top, options.top, 'optimizer list and options side by side');
    assert.ok(options.left - list.right <= 24, `one gap apart: ${JSON.stringify(layout)}`);
    assert.ok(Math.abs(options.right - row.right) <= 1, `no empty band: ${JSON.stringify(layout)}`);
    assert.ok(
      row.height <= Math.max(...contents) + 60,
      `the row is as tall as its taller content needs: ${JSON.stringify(layout)}`,
    );
    // Raising Steps and pressing Start trains on; no step leaves a tensor behind.
    await page.fill('#steps', String(STEPS + 5));
    await page.click('#start');
    await page.waitForFunction(
      (steps) => window.__evaDemo.runs.every((r) => r.steps === steps) && window.__evaDemo.done,
      STEPS + 5,
      { timeout: 60_000, polling: 200 },
    );
    assert.equal((await demoState(page)).tensors, state.tensors, 'tensors after 5 more steps');
    assert.deepEqual(consoleErrors, []);
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/web-demo.png', fullPage: true });
  } finally {
    await browser.close();
    await server.close();
  }
});
