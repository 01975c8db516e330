/**
 * End-to-end test of the web demo in Debian's Chromium (headless, no GPU): the built page loads,
 * SGD and Eva train side by side for a fixed number of steps on the wasm backend, both losses
 * fall, the charts and reconstructions render, the console stays free of errors, and a
 * screenshot is saved to test-artifacts/web-demo.png. Run by `npm run test:web` (which builds
 * the page first).
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { preview } from 'vite';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

interface DemoState {
  backend: string;
  done: boolean;
  errors: string[];
  runs: Array<{ name: string; steps: number; firstLoss: number; lastLoss: number }>;
  reconstructionsDrawn: number;
}

test('the demo trains SGD and Eva in Chromium: losses fall, charts and digits render, no errors', async () => {
  const server = await preview({
    configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
    preview: { port: 4173, strictPort: false, host: '127.0.0.1' },
    logLevel: 'warn',
  });
  const url = server.resolvedUrls?.local[0];
  assert.ok(url, 'vite preview gave no URL');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-default-apps',
      '--disable-sync',
      '--no-first-run',
      '--metrics-recording-only',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    // tsx (esbuild keepNames) wraps the functions this file sends to page.evaluate in __name().
    await page.addInitScript({ content: 'window.__name = (f) => f;' });
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(String(error)));
    await page.goto(`${url}?backend=wasm&optimizers=sgd,eva&steps=40&batch=100&autostart=1`);
    await page.waitForFunction(
      () => (window as unknown as { __evaDemo?: { done: boolean } }).__evaDemo?.done === true,
      null,
      { timeout: 240_000, polling: 500 },
    );
    const demo = (await page.evaluate(
      () => (window as unknown as { __evaDemo: unknown }).__evaDemo,
    )) as DemoState;
    assert.equal(demo.backend, 'wasm');
    assert.deepEqual(
      demo.runs.map((r) => r.name),
      ['sgd', 'eva'],
    );
    for (const run of demo.runs) {
      assert.equal(run.steps, 40);
      assert.ok(
        run.lastLoss < 0.9 * run.firstLoss,
        `${run.name}: ${run.firstLoss} -> ${run.lastLoss}`,
      );
    }
    assert.ok(demo.reconstructionsDrawn > 0);
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
    assert.deepEqual(demo.errors, []);
    assert.deepEqual(consoleErrors, []);
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/web-demo.png', fullPage: true });
  } finally {
    await browser.close();
    await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
  }
});
