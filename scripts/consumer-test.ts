/**
 * Consumer test of the published package: packs packages/eva-tfjs with `npm pack` (its prepack
 * builds dist/), installs the tarball into a fresh project next to @tensorflow/tfjs and checks
 * it the way a user would meet it:
 *
 * - install footprint: packages and bytes the tarball adds on top of @tensorflow/tfjs alone
 *   (at most 10 packages and 5 MB);
 * - types: a strict TypeScript file (model.fit with Eva, createOptimizer typed by name, a
 *   `@ts-expect-error` on a misspelt option) compiles under `--module nodenext` and under
 *   `--module esnext --moduleResolution bundler`;
 * - runtime: model.fit with Eva lowers the loss from an ES module (`import`) and from a CommonJS
 *   file (`require('eva-tfjs')`, Node >= 20.19's require of ESM); `eva-tfjs/distributed` loads
 *   from both without the optional MPI addon;
 * - browser: a page importing Eva and @tensorflow/tfjs bundles with Vite, and the emitted
 *   JavaScript imports no Node built-in (fs, path, zlib, child_process, module, node:*).
 *
 * Run from the repository root: `npm run test:consumer`. Prints `consumer test: N passed, M
 * failed` and exits non-zero on any failure. Set KEEP_CONSUMER_DIR=1 to keep the temporary
 * project for inspection.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { assert, Checks, tail } from './checks.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIBRARY = join(ROOT, 'packages', 'eva-tfjs');
const MAX_ADDED_PACKAGES = 10;
const MAX_ADDED_BYTES = 5 * 1024 * 1024;
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

// ---------------------------------------------------------------------------------------------
// Bookkeeping

const checks = new Checks('consumer test');

class CommandError extends Error {}

interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a command with captured output; throws with the command and its output on failure. */
function run(
  command: string,
  args: string[],
  cwd: string,
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): RunResult {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 600_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...options.env },
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
    throw new CommandError(
      [
        `command failed (${why}): ${command} ${args.join(' ')}`,
        `cwd: ${cwd}`,
        stdout.trim() ? `--- stdout ---\n${tail(stdout)}` : '(no stdout)',
        stderr.trim() ? `--- stderr ---\n${tail(stderr)}` : '(no stderr)',
      ].join('\n'),
    );
  }
  return { stdout, stderr };
}

// ---------------------------------------------------------------------------------------------
// node_modules accounting

/** Installed packages under `nodeModules`, nested ones as `parent>child`. */
function listPackages(nodeModules: string, prefix = ''): string[] {
  if (!existsSync(nodeModules)) return [];
  const found: string[] = [];
  const visit = (dir: string, name: string) => {
    if (!existsSync(join(dir, 'package.json'))) return;
    found.push(prefix + name);
    found.push(...listPackages(join(dir, 'node_modules'), `${prefix}${name}>`));
  };
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue; // .bin, .package-lock.json
    const dir = join(nodeModules, entry.name);
    if (entry.name.startsWith('@')) {
      for (const scoped of readdirSync(dir)) visit(join(dir, scoped), `${entry.name}/${scoped}`);
    } else {
      visit(dir, entry.name);
    }
  }
  return found;
}

/** Apparent size (sum of file sizes) and disk usage (allocated blocks, like `du`) of a tree. */
function treeSize(path: string): { bytes: number; disk: number } {
  let bytes = 0;
  let disk = 0;
  const walk = (p: string) => {
    const st = lstatSync(p);
    bytes += st.size;
    disk += st.blocks * 512;
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
  };
  if (existsSync(path)) walk(path);
  return { bytes, disk };
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} kB`;
}

// ---------------------------------------------------------------------------------------------
// The consumer project's files

/** Deterministic data and model shared by the runtime checks (a tiny linear regression). */
const TRAIN_BODY = `
  await tf.setBackend('cpu');
  // Deterministic inputs (a linear congruential generator) and targets y = x W.
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1664525 + 1013904223) % 4294967296;
    return seed / 4294967296 - 0.5;
  };
  const n = 128;
  const x = Array.from({ length: n * 4 }, rand);
  const w = [0.5, -1, 2, 0.3, -0.7, 1.2, 0.1, 0.9];
  const y = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 2; j++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += x[i * 4 + k] * w[k * 2 + j];
      y.push(s);
    }
  }
  const xs = tf.tensor2d(x, [n, 4]);
  const ys = tf.tensor2d(y, [n, 2]);
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 16, activation: 'tanh',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const optimizer = new Eva(model, tf.train.momentum(0.05, 0.9), { damping: 0.03 });
  if (typeof optimizer.precondition !== 'function') throw new Error('Eva has no precondition()');
  model.compile({ optimizer, loss: 'meanSquaredError' });
  const history = await model.fit(xs, ys, { epochs: 15, batchSize: 32, shuffle: false, verbose: 0 });
  const losses = history.history.loss;
  const first = losses[0];
  const last = losses[losses.length - 1];
  console.log('RESULT ' + JSON.stringify({ first, last, epochs: losses.length }));
  if (!(Number.isFinite(last) && last < 0.5 * first)) {
    throw new Error('loss did not decrease: ' + first + ' -> ' + last);
  }
`;

const ESM_RUN = `// model.fit with Eva from an ES module.
import * as tf from '@tensorflow/tfjs';
import { Eva } from 'eva-tfjs';
${TRAIN_BODY}
`;

const CJS_RUN = `// model.fit with Eva from CommonJS: require() of the ESM package (Node >= 20.19).
const tf = require('@tensorflow/tfjs');
const { Eva } = require('eva-tfjs');

async function main() {
${TRAIN_BODY}
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

/**
 * K-FAC's inverses and Shampoo's roots on a worker thread, from the installed package: the
 * thread's entry is the built dist/linalg/matrix-worker-thread.js; the process must exit by
 * itself afterwards (the thread is unref'ed and stopped on dispose).
 */
const WORKER_RUN = `import * as tf from '@tensorflow/tfjs';
import { createOptimizer } from 'eva-tfjs';
const x = tf.randomNormal([64, 8], 0, 1, 'float32', 1);
const losses = {};
for (const [name, options] of [
  ['kfac', { inverseWorker: true, invUpdateFreq: 2 }],
  ['shampoo', { rootWorker: true, invUpdateFreq: 2, blockSize: 4 }],
]) {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [8], units: 16, activation: 'tanh' }),
      tf.layers.dense({ units: 8 }),
    ],
  });
  const optimizer = createOptimizer(name, model, { learningRate: 0.05, ...options });
  model.compile({ optimizer, loss: 'meanSquaredError' });
  const history = await model.fit(x, x, { epochs: 6, batchSize: 16, verbose: 0 });
  const loss = history.history.loss;
  losses[name] = { first: loss[0], last: loss[loss.length - 1] };
  optimizer.dispose();
  model.dispose();
}
console.log('RESULT ' + JSON.stringify(losses));
`;

/** A strict TypeScript use of the public API; compiling it is the check. */
const TYPED_USE = `import * as tf from '@tensorflow/tfjs';
import {
  Eva,
  KFAC,
  SGD,
  attachOptimizer,
  createOptimizer,
  enableFastKernels,
  isOptimizerName,
  optimizerNames,
  type EvaOptions,
  type NamedTensor,
  type OptimizerName,
} from 'eva-tfjs';
import { LocalCommunicator, type Communicator } from 'eva-tfjs/distributed';

function buildModel(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }),
      tf.layers.dense({ units: 4 }),
    ],
  });
}

export async function train(): Promise<number> {
  const model = buildModel();
  const options: EvaOptions = { damping: 0.03, factorDecay: 0.95, klClip: 0.001 };
  const eva: Eva = new Eva(model, tf.train.momentum(0.1, 0.9), options);
  const asOptimizer: tf.Optimizer = eva;
  model.compile({ optimizer: asOptimizer, loss: 'meanSquaredError' });
  const xs = tf.randomNormal([32, 4]);
  const history: tf.History = await model.fit(xs, xs, { epochs: 1, batchSize: 16 });
  const loss = history.history['loss']?.[0];

  // createOptimizer is typed by name: the result is the class, the options are the class's.
  const kfac: KFAC = createOptimizer('kfac', buildModel(), { learningRate: 0.05, invUpdateFreq: 10 });
  const sgd: SGD = createOptimizer('sgd', buildModel(), { learningRate: 0.1 });
  // @ts-expect-error 'dampnig' is not an option of Eva
  createOptimizer('eva', buildModel(), { learningRate: 0.1, dampnig: 0.03 });
  // @ts-expect-error 'evaa' is not an optimizer name
  createOptimizer('evaa', buildModel(), { learningRate: 0.1 });
  // @ts-expect-error K-FAC's options need a learningRate
  createOptimizer('kfac', buildModel(), { invUpdateFreq: 10 });

  // Custom loop: the forward pass runs inside the gradient computation.
  const { grads, value } = tf.variableGrads(
    () => tf.losses.meanSquaredError(xs, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar,
  );
  const preconditioned: NamedTensor[] | null = eva.precondition(grads);
  eva.applyGradients(grads);
  kfac.minimize(() => tf.losses.meanSquaredError(xs, model.predict(xs) as tf.Tensor) as tf.Scalar);

  enableFastKernels();
  // optimizerNames() includes optimizers registered at run time; narrow to the built-in names.
  const names: OptimizerName[] = optimizerNames().filter(isOptimizerName);
  const restored: Promise<tf.Optimizer> = attachOptimizer(model);
  const communicator: Communicator = new LocalCommunicator();
  void communicator;
  void restored;
  void names;
  void preconditioned;
  sgd.dispose();
  value.dispose();
  return typeof loss === 'number' ? loss : Number.NaN;
}
`;

/** The same API from a CommonJS TypeScript module (`require` of the ESM package). */
const TYPED_USE_CJS = `import * as tf from '@tensorflow/tfjs';
import { Eva, createOptimizer, type KFAC } from 'eva-tfjs';

const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
export const eva: Eva = new Eva(model, tf.train.momentum(0.1, 0.9), { damping: 0.03 });
export const kfac: KFAC = createOptimizer('kfac', model, { learningRate: 0.05, invUpdateFreq: 10 });
// @ts-expect-error 'invUpdateFrequency' is not an option of K-FAC
createOptimizer('kfac', model, { learningRate: 0.05, invUpdateFrequency: 10 });
`;

/** Declaration files whose own type errors are tfjs's problem, not the package's. */
const THIRD_PARTY_DECLARATIONS =
  /^node_modules\/(@tensorflow\/tfjs[\w-]*|@webgpu\/types|typescript\/lib)\/[^(]*\.d\.ts\(/;

const PAGE_HTML = `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>eva-tfjs consumer page</title></head>
  <body>
    <p id="status">training...</p>
    <script type="module" src="./main.js"></script>
  </body>
</html>
`;

/** The browser page; the baseline is the same page with tfjs's momentum instead of Eva. */
function pageScript(withEva: boolean): string {
  return `import * as tf from '@tensorflow/tfjs';
${withEva ? "import { Eva } from 'eva-tfjs';" : ''}

async function main() {
  await tf.ready();
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }),
      tf.layers.dense({ units: 4 }),
    ],
  });
  const base = tf.train.momentum(0.05, 0.9);
  const optimizer = ${withEva ? 'new Eva(model, base, { damping: 0.03 })' : 'base'};
  model.compile({ optimizer, loss: 'meanSquaredError' });
  const xs = tf.randomNormal([64, 4]);
  const history = await model.fit(xs, xs, { epochs: 5, batchSize: 16 });
  const losses = history.history.loss;
  document.querySelector('#status').textContent = 'loss ' + losses[0] + ' -> ' + losses[losses.length - 1];
  window.__done = true;
}

main();
`;
}

// ---------------------------------------------------------------------------------------------
// Node built-ins in browser bundles

const NODE_BUILTINS = [
  'fs',
  'fs/promises',
  'path',
  'zlib',
  'child_process',
  'module',
  'os',
  'crypto',
  'url',
  'util',
  'worker_threads',
  'stream',
  'http',
  'https',
  'net',
  'tls',
  'buffer',
  'events',
  'process',
  'perf_hooks',
  'readline',
  'vm',
  'v8',
];

/** Import/require/dynamic-import specifiers of Node built-ins in (minified) JavaScript. */
function nodeBuiltinReferences(code: string): string[] {
  const builtin = `node:[\\w/]+|(?:${NODE_BUILTINS.map((b) => b.replace('/', '\\/')).join('|')})`;
  const pattern = new RegExp(
    `(?:\\bfrom\\s*|\\bimport\\s*\\(?\\s*|\\brequire\\s*\\(\\s*)(["'\`])(${builtin})\\1`,
    'g',
  );
  const hits: string[] = [];
  for (const match of code.matchAll(pattern)) {
    const at = match.index ?? 0;
    hits.push(`${match[2]}: ...${code.slice(Math.max(0, at - 60), at + 60)}...`);
  }
  return hits;
}

function jsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.(m?js|cjs)$/.test(entry.name)) {
      out.push(join(entry.parentPath, entry.name));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

function rootVersion(pkg: string): string {
  const json = JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8'));
  return json.version as string;
}

async function main(): Promise<void> {
  const tsVersion = rootVersion('typescript');
  const tsMajor = tsVersion.split('.')[0]!;
  const viteVersion = rootVersion('vite');
  const work = mkdtempSync(join(tmpdir(), 'eva-tfjs-consumer-'));
  const packDir = join(work, 'pack');
  const app = join(work, 'app');
  mkdirSync(packDir);
  mkdirSync(app);
  console.log(`consumer test in ${work} (node ${process.version})`);
  const removeOnInterrupt = () => {
    if (!process.env.KEEP_CONSUMER_DIR) rmSync(work, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', removeOnInterrupt);
  process.once('SIGTERM', removeOnInterrupt);

  try {
    // -- Pack ------------------------------------------------------------------------------
    let tarball = '';
    let packedFiles: string[] = [];
    const packed = await checks.check('npm pack packages/eva-tfjs (prepack builds dist/)', () => {
      // With --json the lifecycle scripts' output goes to stderr and stdout is the report.
      const { stdout } = run(NPM, ['pack', '--json', '--pack-destination', packDir], LIBRARY);
      const report = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as Array<{
        filename: string;
        size: number;
        unpackedSize: number;
        files: Array<{ path: string }>;
      }>;
      const info = report[0];
      assert(info, `npm pack printed no report:\n${stdout}`);
      tarball = join(packDir, info.filename);
      packedFiles = info.files.map((f) => f.path);
      assert(existsSync(tarball), `npm pack reported '${info.filename}' but ${tarball} is missing`);
      console.log(
        `       ${info.filename}: ${kb(info.size)} packed, ${kb(info.unpackedSize)} unpacked, ` +
          `${packedFiles.length} files`,
      );
    });
    if (!packed) return;

    await checks.check('the tarball has every export target and no stale build output', () => {
      const shipped = new Set(packedFiles);
      const manifest = JSON.parse(readFileSync(join(LIBRARY, 'package.json'), 'utf8')) as {
        main?: string;
        types?: string;
        exports?: unknown;
      };
      const targets: string[] = [];
      const collect = (value: unknown) => {
        if (typeof value === 'string') targets.push(value);
        else if (value != null && typeof value === 'object') Object.values(value).forEach(collect);
      };
      collect([manifest.main, manifest.types, manifest.exports]);
      const missing = targets
        .map((t) => t.replace(/^\.\//, ''))
        .filter((t) => !t.includes('*') && !shipped.has(t));
      // Compiled files whose source is gone: `tsc` does not clean dist/ before building.
      const stale = packedFiles.filter((f) => {
        const stem = /^dist\/(.+?)(?:\.d\.ts|\.js)(?:\.map)?$/.exec(f)?.[1];
        return stem != null && !shipped.has(`src/${stem}.ts`);
      });
      const problems = [
        ...missing.map((t) => `missing export target: ${t}`),
        ...(stale.length > 0
          ? [
              `${stale.length} compiled files without a source in src/ (stale dist/; ` +
                'remove packages/eva-tfjs/dist and pack again):',
              ...stale.map((f) => `  ${f}`),
            ]
          : []),
      ];
      assert(problems.length === 0, problems.join('\n'));
    });

    // -- Install: baseline, then the tarball -------------------------------------------------
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify(
        {
          name: 'eva-tfjs-consumer',
          version: '1.0.0',
          private: true,
          type: 'module',
          description: 'Temporary project of scripts/consumer-test.ts',
          license: 'UNLICENSED',
        },
        null,
        2,
      ) + '\n',
    );
    const install = (...specs: string[]) =>
      run(NPM, ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], app);

    const baselineOk = await checks.check('npm install @tensorflow/tfjs@^4.22.0 (baseline)', () => {
      install('@tensorflow/tfjs@^4.22.0');
    });
    if (!baselineOk) return;
    const nodeModules = join(app, 'node_modules');
    const before = { packages: listPackages(nodeModules), size: treeSize(nodeModules) };

    const installed = await checks.check('npm install <tarball>', () => {
      install(tarball);
    });
    if (!installed) return;
    const after = { packages: listPackages(nodeModules), size: treeSize(nodeModules) };
    const added = after.packages.filter((p) => !before.packages.includes(p));
    const addedBytes = after.size.bytes - before.size.bytes;
    const addedDisk = after.size.disk - before.size.disk;
    console.log(
      `       baseline (@tensorflow/tfjs): ${before.packages.length} packages, ` +
        `${mb(before.size.bytes)} (${mb(before.size.disk)} on disk)`,
    );
    console.log(
      `       with eva-tfjs: ${after.packages.length} packages, ${mb(after.size.bytes)} ` +
        `(${mb(after.size.disk)} on disk)`,
    );
    console.log(
      `       added: ${added.length} packages, ${mb(addedBytes)} (${mb(addedDisk)} on disk): ` +
        added.join(', '),
    );
    await checks.check(`install adds at most ${MAX_ADDED_PACKAGES} packages`, () => {
      assert(added.length <= MAX_ADDED_PACKAGES, `added ${added.length}: ${added.join(', ')}`);
    });
    await checks.check(`install adds at most ${mb(MAX_ADDED_BYTES)}`, () => {
      const worst = Math.max(addedBytes, addedDisk);
      assert(worst <= MAX_ADDED_BYTES, `added ${mb(worst)}`);
    });

    // -- Runtime: ESM and CommonJS -------------------------------------------------------------
    writeFileSync(join(app, 'fit-esm.mjs'), ESM_RUN);
    writeFileSync(join(app, 'fit-cjs.cjs'), CJS_RUN);
    for (const [label, file] of [
      ['ESM import', 'fit-esm.mjs'],
      ['CommonJS require', 'fit-cjs.cjs'],
    ] as const) {
      await checks.check(`model.fit with Eva from ${label} (${file}) lowers the loss`, () => {
        const { stdout } = run(process.execPath, [file], app, { timeoutMs: 180_000 });
        const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
        assert(line, `no RESULT line in the output:\n${stdout}`);
        const { first, last, epochs } = JSON.parse(line.slice('RESULT '.length)) as {
          first: number;
          last: number;
          epochs: number;
        };
        console.log(`       loss ${first.toFixed(4)} -> ${last.toFixed(4)} in ${epochs} epochs`);
        assert(last < first, `loss did not decrease: ${first} -> ${last}`);
      });
    }

    writeFileSync(join(app, 'worker-threads.mjs'), WORKER_RUN);
    await checks.check(
      "K-FAC's inverses and Shampoo's roots on a worker thread (the built entry); the process exits",
      () => {
        const { stdout } = run(process.execPath, ['worker-threads.mjs'], app, {
          timeoutMs: 180_000,
        });
        const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
        assert(line, `no RESULT line in the output:\n${stdout}`);
        const losses = JSON.parse(line.slice('RESULT '.length)) as Record<
          string,
          { first: number; last: number }
        >;
        for (const [name, { first, last }] of Object.entries(losses)) {
          console.log(`       ${name}: loss ${first.toFixed(4)} -> ${last.toFixed(4)}`);
          assert(last < first, `${name}: loss did not decrease: ${first} -> ${last}`);
        }
      },
    );

    // The Node-only subpath loads (without the optional MPI addon) from both module systems.
    writeFileSync(
      join(app, 'distributed-esm.mjs'),
      "import { LocalCommunicator } from 'eva-tfjs/distributed';\n" +
        "if (typeof LocalCommunicator !== 'function') throw new Error('no LocalCommunicator');\n",
    );
    writeFileSync(
      join(app, 'distributed-cjs.cjs'),
      "const { LocalCommunicator } = require('eva-tfjs/distributed');\n" +
        "if (typeof LocalCommunicator !== 'function') throw new Error('no LocalCommunicator');\n",
    );
    await checks.check("'eva-tfjs/distributed' loads from ESM import and CommonJS require", () => {
      run(process.execPath, ['distributed-esm.mjs'], app);
      run(process.execPath, ['distributed-cjs.cjs'], app);
    });

    // -- Tools for the type and bundle checks ------------------------------------------------
    const toolsOk = await checks.check(
      `npm install typescript@${tsMajor} vite@${viteVersion}`,
      () => {
        install(`typescript@${tsMajor}`, `vite@${viteVersion}`);
      },
    );

    // -- Types -----------------------------------------------------------------------------------
    if (toolsOk) {
      const tsc = join(nodeModules, 'typescript', 'bin', 'tsc');
      const installedTs = JSON.parse(
        readFileSync(join(nodeModules, 'typescript', 'package.json'), 'utf8'),
      ).version as string;
      writeFileSync(join(app, 'typed-use.ts'), TYPED_USE);
      writeFileSync(join(app, 'typed-use-cjs.cts'), TYPED_USE_CJS);
      const common = ['--noEmit', '--strict', '--target', 'es2022', '--lib', 'es2022,dom'];
      for (const [flags, files] of [
        [
          ['--module', 'nodenext', '--moduleResolution', 'nodenext'],
          ['typed-use.ts', 'typed-use-cjs.cts'],
        ],
        [['--module', 'esnext', '--moduleResolution', 'bundler'], ['typed-use.ts']],
      ] as const satisfies ReadonlyArray<readonly [readonly string[], readonly string[]]>) {
        // No --skipLibCheck, so the shipped declarations are checked too; tfjs's own
        // declarations have errors under TypeScript 6 (@webgpu/types 0.1.38 against lib.dom's
        // WebGPU types, tfjs-layers' config types), which are reported and tolerated.
        await checks.check(
          `tsc ${installedTs} --strict ${flags.join(' ')} (${files.join(', ')})`,
          () => {
            const result = spawnSync(process.execPath, [tsc, ...common, ...flags, ...files], {
              cwd: app,
              encoding: 'utf8',
              timeout: 300_000,
            });
            const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
            // Every diagnostic line (`file(line,col): error TSnnnn: ...` or a global `error TSnnnn`).
            const errors = output.split('\n').filter((l) => /\berror TS\d+:/.test(l));
            const ours = errors.filter((l) => !THIRD_PARTY_DECLARATIONS.test(l));
            assert(
              ours.length === 0,
              `type errors outside tfjs's declarations:\n${ours.join('\n')}\n--- full output ---\n${tail(output)}`,
            );
            assert(
              result.status === 0 || errors.length > 0,
              `tsc failed without type errors (${result.error ?? `exit ${result.status}`}):\n${tail(output)}`,
            );
            if (errors.length > 0) {
              const byPackage = new Map<string, number>();
              for (const l of errors) {
                const pkg = THIRD_PARTY_DECLARATIONS.exec(l)?.[1] ?? '?';
                byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + 1);
              }
              console.log(
                `       note: ${errors.length} errors inside tfjs's own declarations tolerated ` +
                  `(none with --skipLibCheck): ` +
                  [...byPackage].map(([p, n]) => `${p} ${n}`).join(', '),
              );
            }
          },
        );
      }

      // -- Browser bundle ------------------------------------------------------------------------
      const vite = join(nodeModules, 'vite', 'bin', 'vite.js');
      const bundles: Record<string, { raw: number; gzip: number }> = {};
      for (const [name, withEva] of [
        ['eva', true],
        ['baseline', false],
      ] as const) {
        const pageDir = join(app, 'web', name);
        const outDir = join(app, 'dist', name);
        mkdirSync(pageDir, { recursive: true });
        writeFileSync(join(pageDir, 'index.html'), PAGE_HTML);
        writeFileSync(join(pageDir, 'main.js'), pageScript(withEva));
        const title =
          name === 'eva'
            ? 'vite build of a page importing Eva and @tensorflow/tfjs'
            : 'vite build of the same page without eva-tfjs (size baseline)';
        const built = await checks.check(title, () => {
          const { stdout, stderr } = run(
            process.execPath,
            [vite, 'build', pageDir, '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
            app,
            { timeoutMs: 300_000 },
          );
          const externalized = `${stdout}\n${stderr}`
            .split('\n')
            .filter((l) => /externalized for browser compatibility/.test(l));
          assert(
            externalized.length === 0,
            `Vite externalized Node modules:\n${externalized.join('\n')}`,
          );
          let raw = 0;
          let gzip = 0;
          for (const file of jsFiles(outDir)) {
            const code = readFileSync(file);
            raw += code.length;
            gzip += gzipSync(code).length;
          }
          assert(raw > 0, `no JavaScript emitted in ${outDir}`);
          bundles[name] = { raw, gzip };
          console.log(`       JavaScript: ${kb(raw)} (${kb(gzip)} gzipped)`);
        });
        if (built && withEva) {
          await checks.check('the bundle imports no Node built-in', () => {
            const hits = jsFiles(outDir).flatMap((file) =>
              nodeBuiltinReferences(readFileSync(file, 'utf8')).map(
                (hit) => `${file.slice(outDir.length + 1)}: ${hit}`,
              ),
            );
            assert(hits.length === 0, `Node built-ins in the bundle:\n${hits.join('\n')}`);
          });
        }
      }
      if (bundles.eva && bundles.baseline) {
        console.log(
          `       eva-tfjs adds ${kb(bundles.eva.raw - bundles.baseline.raw)} ` +
            `(${kb(bundles.eva.gzip - bundles.baseline.gzip)} gzipped) to the page's JavaScript`,
        );
      }
    }
  } finally {
    if (process.env.KEEP_CONSUMER_DIR) {
      console.log(`kept ${work}`);
    } else {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

await checks.finish(main);
