/**
 * Driving the built demo in headless Chromium, for the end-to-end tests and the screenshot
 * script: `vite preview` serves `dist/` from http://localhost (WebGPU needs a secure context,
 * which file:// is not), and Chromium runs WebGL2 and WebGPU on SwiftShader, its CPU
 * implementation of Vulkan, so both GPU backends are real on a machine without a GPU.
 */
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { preview } from 'vite';
import type { DemoState } from '../src/demo-state.js';

/** The Chromium binary (Debian's, unless `CHROMIUM_PATH` says otherwise). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Chromium's flags: WebGL2 through ANGLE on SwiftShader, WebGPU on SwiftShader's adapter, and
 * none of the background services a test has no use for.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-sync',
  '--no-first-run',
  '--metrics-recording-only',
];

/** A running `vite preview` of the built demo. */
export interface DemoServer {
  /** The page's URL, `http://localhost:<port>/`. */
  url: string;
  close(): Promise<void>;
}

/** Serves the built demo (`dist/`, from `npm run web:build`) on a free port of localhost. */
export async function serveDemo(): Promise<DemoServer> {
  const server = await preview({
    configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
    preview: { port: 4173, strictPort: false, host: 'localhost' },
    logLevel: 'warn',
  });
  const url = server.resolvedUrls?.local[0];
  if (url == null) throw new Error('vite preview gave no URL');
  return {
    url,
    close: () => new Promise<void>((resolve) => server.httpServer.close(() => resolve())),
  };
}

/** Headless Chromium with {@link CHROMIUM_ARGS}. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** A page and the console errors and uncaught exceptions it has reported so far. */
export interface WatchedPage {
  page: Page;
  consoleErrors: string[];
}

/** A new page of `browser` (1280 pixels wide) that records its console errors. */
export async function watchedPage(browser: Browser, height = 1000): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: { width: 1280, height } });
  // tsx (esbuild keepNames) wraps the functions sent to page.evaluate in __name().
  await page.addInitScript({ content: 'window.__name = (f) => f;' });
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  return { page, consoleErrors };
}

/**
 * Opens the demo at `url` with the URL parameters `params` and waits until the run is done
 * (or an error was recorded); returns the page's {@link DemoState}.
 */
export async function runDemo(
  page: Page,
  url: string,
  params: Record<string, string | number>,
  timeoutMs: number,
): Promise<DemoState> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  await page.goto(`${url}?${query}`);
  await page.waitForFunction(
    () => {
      const state = (window as unknown as { __evaDemo?: DemoState }).__evaDemo;
      return state != null && (state.done || state.errors.length > 0);
    },
    null,
    { timeout: timeoutMs, polling: 500 },
  );
  return demoState(page);
}

/** The page's `window.__evaDemo`. */
export async function demoState(page: Page): Promise<DemoState> {
  return (await page.evaluate(
    () => (window as unknown as { __evaDemo: unknown }).__evaDemo,
  )) as DemoState;
}
