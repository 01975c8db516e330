/**
 * Runs the examples under examples/ and checks they work:
 *
 * - examples/node-fit-eva and examples/custom-loop-kfac run in Node (each exits non-zero if its
 *   loss did not decrease, the K-FAC loop also if tensors leak);
 * - examples/browser-vite is built with Vite and, when Chromium is installed (/usr/bin/chromium
 *   or $CHROMIUM_PATH), served with `vite preview` and loaded headless through playwright-core
 *   until the page sets `window.__done`; its reported loss must have decreased. Without Chromium
 *   the browser run is skipped with a note.
 *
 * Run from the repository root:
 *
 *   node --conditions=eva-tfjs-source --import tsx scripts/run-examples.ts
 *
 * Prints `examples: N passed, M failed` and exits non-zero on any failure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, Checks, tail } from './checks.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const checks = new Checks('examples');

/** Runs a command with captured output; throws with the command and its output on failure. */
function run(command: string, args: string[], timeoutMs = 300_000): string {
  const result = spawnSync(command, args, {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  const stdout = result.stdout ?? '';
  const stderr = result.stderr ?? '';
  if (result.error != null || result.status !== 0) {
    const why =
      result.error != null
        ? String(result.error)
        : result.signal != null
          ? `killed by ${result.signal}`
          : `exit code ${result.status}`;
    throw new Error(
      [
        `command failed (${why}): ${[command, ...args].join(' ')}`,
        stdout.trim() ? `--- stdout ---\n${tail(stdout)}` : '(no stdout)',
        stderr.trim() ? `--- stderr ---\n${tail(stderr)}` : '(no stderr)',
      ].join('\n'),
    );
  }
  return stdout;
}

// --- Node examples ------------------------------------------------------------------------------

for (const example of ['node-fit-eva', 'custom-loop-kfac']) {
  const file = join('examples', example, 'main.ts');
  await checks.check(`${file} (node --conditions=eva-tfjs-source --import tsx)`, () => {
    const stdout = run(process.execPath, ['--conditions=eva-tfjs-source', '--import', 'tsx', file]);
    // Each example ends with a `loss <first> -> <last> ...` line and checks it itself.
    const summary = stdout
      .split('\n')
      .filter((l) => l.startsWith('loss '))
      .at(-1);
    assert(summary, `no 'loss ... -> ...' line in the output:\n${tail(stdout)}`);
    console.log(`       ${summary}`);
  });
}

// --- Browser example ------------------------------------------------------------------------------

const browserDir = join(EXAMPLES, 'browser-vite');
const distDir = join(browserDir, 'dist');
const built = await checks.check('vite build examples/browser-vite', () => {
  const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  run(process.execPath, [vite, 'build', 'examples/browser-vite', '--logLevel', 'warn']);
  const assets = existsSync(join(distDir, 'assets')) ? readdirSync(join(distDir, 'assets')) : [];
  assert(existsSync(join(distDir, 'index.html')), `no ${join(distDir, 'index.html')}`);
  assert(
    assets.some((f) => f.endsWith('.js')),
    `no JavaScript in ${join(distDir, 'assets')}`,
  );
});

if (!built) {
  // Nothing to load.
} else if (!existsSync(CHROMIUM)) {
  console.log(
    `  skip the browser run of examples/browser-vite: no Chromium at ${CHROMIUM} ` +
      '(install it, e.g. `apt-get install chromium`, or set CHROMIUM_PATH)',
  );
} else {
  await checks.check(
    'examples/browser-vite trains in headless Chromium (vite preview)',
    async () => {
      const { preview } = await import('vite');
      const { chromium } = await import('playwright-core');
      const server = await preview({
        configFile: join(browserDir, 'vite.config.ts'),
        preview: { port: 4174, strictPort: false, host: '127.0.0.1' },
        logLevel: 'warn',
      });
      try {
        const url = server.resolvedUrls?.local[0];
        assert(url, 'vite preview gave no URL');
        const browser = await chromium.launch({
          executablePath: CHROMIUM,
          headless: true,
          args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions'],
        });
        try {
          const page = await browser.newPage();
          const pageErrors: string[] = [];
          page.on('pageerror', (error) => pageErrors.push(String(error)));
          page.on('console', (message) => {
            if (message.type() === 'error') pageErrors.push(message.text());
          });
          // The cpu backend: deterministic and independent of the (absent) GPU.
          await page.goto(`${url}?backend=cpu`);
          // Strings, not functions: tsx would wrap functions in a __name() helper the page lacks.
          await page.waitForFunction('window.__done === true', null, {
            timeout: 120_000,
            polling: 250,
          });
          const outcome = (await page.evaluate(
            '({ result: window.__result, error: window.__error, status: document.querySelector("#status").textContent })',
          )) as { result?: { first: number; last: number }; error?: string; status: string };
          console.log(`       page: ${outcome.status}`);
          assert(outcome.error == null, `the page reported an error: ${outcome.error}`);
          assert(outcome.result, 'the page set __done without a __result');
          const { first, last } = outcome.result;
          assert(
            Number.isFinite(last) && last < first,
            `loss did not decrease: ${first} -> ${last}`,
          );
          assert(pageErrors.length === 0, `errors in the page:\n${pageErrors.join('\n')}`);
        } finally {
          await browser.close();
        }
      } finally {
        await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
      }
    },
  );
}

checks.summarize();
