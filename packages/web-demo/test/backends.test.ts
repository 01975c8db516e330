/**
 * The demo on real WebGL2 and WebGPU in headless Chromium (SwiftShader, see
 * scripts/browser.ts): one Eva step and one K-FAC step on webgl and on webgpu equal the cpu
 * backend's from the same weights and batch, AddN over many tensors is right on webgpu, and
 * the demo page trains on each. WebGPU is skipped, with the reason, only when Chromium has no
 * WebGPU adapter. Run by `npm run test:web` (which builds the pages first).
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { BackendCheck, StepResult } from '../src/backend-check.js';
import {
  demoState,
  launchChromium,
  runDemo,
  serveDemo,
  watchedPage,
  type DemoServer,
  type WatchedPage,
} from '../scripts/browser.js';

/**
 * How far a GPU backend's update (weights after the step minus before) may be from cpu's, as a
 * fraction of the largest update of the same tensor. Every backend computes in float32, so the
 * updates agree only to float32 precision: the weights (|w| up to ~0.15) are stored to
 * ~1.5e-8, about 1e-5 of the largest update (~1e-3); sums of up to 64 products in another
 * order differ by up to ~64 * 6e-8 = 4e-6 relatively; K-FAC's inverse of the damped factors
 * magnifies its inputs' errors by their condition number. Measured on this machine: at most
 * 1.3e-5 (K-FAC) and 9e-6 (Eva) on both webgl and webgpu; a real error (a sign, a missing term,
 * a wrong transpose) is of the order of the update itself.
 */
const UPDATE_TOLERANCE = 1e-4;
/** The loss before the step: one forward pass, float32 sums over 64 * 32 terms. */
const LOSS_TOLERANCE = 1e-5;

let server: DemoServer;
let browser: Browser;
let check: WatchedPage;
let webgpuUnavailable: string | null;

type Method = (...args: never[]) => Promise<unknown>;

/** The check page's `window.__backendCheck.<method>(...args)`. */
function call<K extends keyof BackendCheck>(
  page: Page,
  method: K,
  ...args: Parameters<BackendCheck[K]>
): Promise<Awaited<ReturnType<BackendCheck[K]>>> {
  return page.evaluate(
    ([name, values]) => {
      const check = (window as unknown as { __backendCheck: Record<string, Method> })
        .__backendCheck;
      return check[name]!(...(values as never[]));
    },
    [method as string, args as unknown[]] as const,
  ) as Promise<Awaited<ReturnType<BackendCheck[K]>>>;
}

before(async () => {
  server = await serveDemo();
  browser = await launchChromium();
  check = await watchedPage(browser);
  await check.page.goto(`${server.url}backend-check.html`);
  await check.page.waitForFunction(() => '__backendCheck' in window, null, { timeout: 60_000 });
  webgpuUnavailable = await call(check.page, 'webgpuUnavailable');
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Skips the WebGPU part, saying why, when Chromium has no WebGPU adapter. */
function needsBackend(t: TestContext, backend: string): boolean {
  if (backend === 'webgpu' && webgpuUnavailable != null) {
    t.skip(`WebGPU unavailable in this Chromium: ${webgpuUnavailable}`);
    return false;
  }
  return true;
}

/** The largest |a - b| over the updates, as a fraction of the largest |update| of `reference`. */
function updateDifference(result: StepResult, reference: StepResult, i: number): number {
  const update = (r: StepResult, j: number) => r.after[i]![j]! - r.before[i]![j]!;
  let largest = 0;
  let difference = 0;
  for (let j = 0; j < reference.after[i]!.length; j++) {
    largest = Math.max(largest, Math.abs(update(reference, j)));
    difference = Math.max(difference, Math.abs(update(result, j) - update(reference, j)));
  }
  assert.ok(largest > 0, `${reference.names[i]}: the step changed nothing`);
  return difference / largest;
}

for (const optimizer of ['eva', 'kfac']) {
  test(`one ${optimizer} step on webgl and webgpu equals the cpu backend's`, async (t) => {
    const reference = await call(check.page, 'oneStep', 'cpu', optimizer);
    assert.equal(reference.leakedTensors, 0, 'cpu: tensors left behind');
    for (const backend of ['webgl', 'webgpu']) {
      await t.test(backend, async (t) => {
        if (!needsBackend(t, backend)) return;
        const result = await call(check.page, 'oneStep', backend, optimizer);
        assert.equal(result.backend, backend);
        assert.ok(result.float32, `${backend} computes in float32`);
        assert.equal(result.leakedTensors, 0, `${backend}: tensors left behind`);
        assert.deepEqual(result.before, reference.before, 'the same initial weights');
        const lossError = Math.abs(result.loss - reference.loss) / reference.loss;
        assert.ok(lossError < LOSS_TOLERANCE, `loss ${result.loss} vs ${reference.loss}`);
        reference.names.forEach((name, i) => {
          const difference = updateDifference(result, reference, i);
          assert.ok(
            difference <= UPDATE_TOLERANCE,
            `${backend} ${optimizer} ${name}: update differs by ${difference.toExponential(2)} of its size`,
          );
        });
      });
    }
  });
}

test('AddN over more tensors than a WebGPU shader may bind is right on webgpu', async (t) => {
  if (!needsBackend(t, 'webgpu')) return;
  for (const count of [7, 8, 25, 50]) {
    assert.equal(await call(check.page, 'sumOfMany', 'webgpu', count), (count * (count + 1)) / 2);
  }
});

test('no errors on the backend check page', () => {
  assert.deepEqual(check.consoleErrors, []);
});

/** Steps of the demo's training on each GPU backend (a step takes seconds on SwiftShader). */
const DEMO_STEPS = 6;

for (const backend of ['webgl', 'webgpu']) {
  test(`the demo trains SGD and Eva on ${backend}: the losses fall`, async (t) => {
    if (!needsBackend(t, backend)) return;
    const { page, consoleErrors } = await watchedPage(browser);
    const state = await runDemo(
      page,
      server.url,
      {
        backend,
        optimizers: 'sgd,eva',
        model: 'mlp',
        batch: 50,
        steps: DEMO_STEPS,
        warmup: 0,
        autostart: 1,
      },
      240_000,
    );
    assert.deepEqual(state.errors, []);
    assert.equal(state.backend, backend, `fell back from ${backend}: ${state.backendFailures}`);
    for (const run of state.runs) {
      assert.equal(run.steps, DEMO_STEPS);
      const mean = (losses: number[]) => losses.reduce((a, b) => a + b) / losses.length;
      const [first, last] = [mean(run.losses.slice(0, 3)), mean(run.losses.slice(-3))];
      assert.ok(last < 0.95 * first, `${run.name} on ${backend}: ${run.losses}`);
    }
    assert.ok(state.reconstructionsDrawn > 0);
    assert.deepEqual(consoleErrors, []);
    assert.equal((await demoState(page)).running, false);
    await page.close();
  });
}
