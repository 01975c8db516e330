/**
 * The command line end to end on small data (subprocesses on the cpu backend): train with a
 * JSON log, checkpoint and resume; compare and sweep reports; bench tables; clear errors;
 * optimizer flags of every kind reaching the optimizer; an optimizer added by `--plugin`.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCheckpoint } from '../src/experiments/checkpoint.js';

/** A path inside this package (tests may run from any directory). */
const packagePath = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url));

const run = promisify(execFile);
const tmp = () => mkdtempSync(join(tmpdir(), 'eva-cli-'));

async function cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--conditions=eva-tfjs-source', '--import', 'tsx', packagePath('src/cli/main.ts'), ...args],
      {
        timeout: 240_000,
        maxBuffer: 16 * 2 ** 20,
      },
    );
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: err.code ?? -1 };
  }
}

const small = [
  '--train-limit',
  '32',
  '--test-limit',
  '16',
  '--batch-size',
  '16',
  '--backend',
  'cpu',
];

test('train: progress, per-epoch metrics, JSON log, checkpoint, --resume', async () => {
  const out = tmp();
  const first = await cli([
    'train',
    '--data',
    'curves',
    '--optimizer',
    'eva',
    '--epochs',
    '2',
    ...small,
    '--out',
    out,
  ]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /eva epoch {3}2 {2}train loss \d/);
  assert.match(first.stdout, /final train loss/);
  const log = () =>
    readFileSync(join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { epoch: number });
  assert.deepEqual(
    log().map((r) => r.epoch),
    [1, 2],
  );
  assert.ok(hasCheckpoint(join(out, 'checkpoint')));
  const resumed = await cli([
    'train',
    '--data',
    'curves',
    '--optimizer',
    'eva',
    '--epochs',
    '3',
    ...small,
    '--out',
    out,
    '--resume',
  ]);
  assert.notEqual(
    resumed.code,
    0,
    'a checkpoint of a 2-epoch run is another run than a 3-epoch one',
  );
  assert.match(resumed.stderr, /is of another run/);
  const again = await cli([
    'train',
    '--data',
    'curves',
    '--optimizer',
    'eva',
    '--epochs',
    '2',
    ...small,
    '--out',
    out,
    '--resume',
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /eva: finished earlier: taken from its checkpoint/);
});

test('compare: classifier report with accuracy, per-optimizer learning rates and plots', async () => {
  const out = tmp();
  const result = await cli([
    'compare',
    '--model',
    'mlp',
    '--data',
    'mnist',
    '--optimizers',
    'sgd,adam',
    '--lr-for',
    'adam=0.001',
    '--epochs',
    '2',
    ...small,
    '--out',
    out,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(summary, /\| adam \| 0\.001 \|/);
  assert.match(summary, /\| sgd \| 0\.1 \|/);
  assert.match(summary, /target test accuracy/);
  assert.match(summary, /eva-tfjs compare --model mlp/);
  for (const f of ['test-accuracy-vs-epoch.svg', 'test-loss-vs-time.svg'])
    assert.ok(existsSync(join(out, f)), f);
  // Not a terminal: each epoch's line once (printed as the epoch ends), SGD's before Adam's;
  // the output gets the report's table and where the rest is, not the whole summary.md.
  const sgdLine = result.stdout.indexOf('sgd epoch   2');
  assert.ok(sgdLine >= 0 && sgdLine < result.stdout.indexOf('adam epoch   1'), result.stdout);
  assert.equal(result.stdout.split('sgd epoch   1 ').length, 2);
  assert.match(result.stdout, /\| sgd \| 0\.1 \|/);
  assert.doesNotMatch(result.stdout, /Options of each run|\.svg/);
  assert.match(result.stdout, /Report written to .* \(summary\.md: settings, table, plots\)/);
});

/** A sweep of SGD's learning rate over `values` on a little CURVES data, without warm-up. */
const sgdLrSweep = (values: string, epochs: number, out: string): string[] => [
  'sweep',
  '--warmup-epochs',
  '0',
  '--data',
  'curves',
  '--optimizer',
  'sgd',
  '--param',
  'lr',
  '--values',
  values,
  '--epochs',
  String(epochs),
  ...small,
  '--out',
  out,
];

test('sweep: one run per value, labelled, reported like compare', async () => {
  const out = tmp();
  const result = await cli(sgdLrSweep('0.01,0.1', 1, out));
  assert.equal(result.code, 0, result.stderr);
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(summary, /\| sgd lr=0\.01 \| 0\.01 \|/);
  assert.match(summary, /\| sgd lr=0\.1 \| 0\.1 \|/);
});

test('bench: time and memory relative to SGD, appended to bench.md', async () => {
  const out = tmp();
  const result = await cli([
    'bench',
    '--model',
    'mlp',
    '--optimizers',
    'sgd,eva,kfac@2,shampoo@2+rootWorker',
    '--steps',
    '2',
    '--batch-size',
    '8',
    '--backend',
    'cpu',
    '--out',
    out,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const table = readFileSync(join(out, 'bench.md'), 'utf8');
  assert.match(table, /\| sgd \| [\d.]+ \| 2 \| 1\.00 \|/);
  assert.match(table, /\| eva \| [\d.]+ \| 2 \|/);
  assert.match(table, /\| kfac@2 \| [\d.]+ \| 2 \|/);
  assert.match(table, /\| shampoo@2\+rootWorker \| [\d.]+ \| 2 \|/);
});

test('bench: labels are name[@N][+option...], checked before anything runs', async () => {
  const cases: Array<[string, RegExp]> = [
    ['kfac@0', /--optimizers: 'kfac@0': the interval of name@N must be a positive integer/],
    ['sgd@2', /--optimizers: 'sgd@2': sgd has no inverse interval \(invUpdateFreq\) for @N/],
    ['eva+fast', /--optimizers: 'eva\+fast': '\+fast' must be a boolean option of eva \(/],
    ['shampoo+blockSize', /'\+blockSize' must be a boolean option of shampoo \(.*rootWorker/],
  ];
  for (const [label, message] of cases) {
    const result = await cli(['bench', '--optimizers', `sgd,${label}`, '--backend', 'cpu']);
    assert.equal(result.code, 1, label);
    assert.match(result.stderr, message);
  }
});

test('errors: options no chosen optimizer takes, unknown names, bad values', async () => {
  const unused = await cli(['compare', '--optimizers', 'sgd', '--block-size', '4', ...small]);
  assert.equal(unused.code, 1);
  assert.match(unused.stderr, /--block-size is not an option of sgd/);
  const data = await cli(['train', '--data', 'imagenet']);
  assert.notEqual(data.code, 0);
  assert.match(data.stderr, /Allowed choices are mnist, fashion-mnist, curves, cifar10, cifar100/);
  const optimizer = await cli(['compare', '--optimizers', 'sgd,lion', ...small]);
  assert.match(optimizer.stderr, /Unknown optimizer 'lion'; valid names are/);
  const lr = await cli(['compare', '--lr', 'fast']);
  assert.match(lr.stderr, /--lr must be a number, got 'fast'/);
  const cifar = await cli(['train', '--data', 'cifar10', '--model', 'vgg', ...small]);
  assert.match(cifar.stderr, /needs --data-dir/);
});

/** The epochs of a train log, checked to have finite losses. */
function finiteLog(path: string): { epoch: number; trainLoss: number; testLoss: number }[] {
  const records = readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { epoch: number; trainLoss: number; testLoss: number });
  for (const r of records) {
    assert.ok(Number.isFinite(r.trainLoss) && Number.isFinite(r.testLoss), JSON.stringify(r));
  }
  return records;
}

test('optimizer flags: --no-nesterov and --kl-clip none reach the optimizer; sweep by flag', async () => {
  const out = tmp();
  const trained = await cli([
    'train',
    '--model',
    'mlp',
    '--optimizer',
    'evas',
    '--no-nesterov',
    '--damping',
    '0.05',
    '--epochs',
    '1',
    '--warmup-epochs',
    '0',
    ...small,
    '--out',
    out,
  ]);
  assert.equal(trained.code, 0, trained.stderr);
  assert.match(
    trained.stdout,
    /evas on mlp\/mnist, \{"learningRate":0\.1,"nesterov":false,"weightDecay":0\.0005,"damping":0\.05\}/,
  );
  assert.equal(finiteLog(join(out, 'log.jsonl')).length, 1);
  const swept = await cli([
    'sweep',
    '--model',
    'mlp',
    '--optimizer',
    'eva',
    '--param',
    'kl-clip',
    '--values',
    '0.001,none',
    '--epochs',
    '1',
    '--warmup-epochs',
    '0',
    ...small,
    '--out',
    out,
  ]);
  assert.equal(swept.code, 0, swept.stderr);
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(summary, /\| eva kl-clip=0\.001 \|/);
  assert.match(summary, /\| eva kl-clip=none \|/);
  const bad = await cli(['sweep', '--optimizer', 'sgd', '--param', 'kl-clip', '--values', '1']);
  assert.match(
    bad.stderr,
    /Unknown sweep parameter 'kl-clip' for sgd; valid: lr, batch-size, momentum/,
  );
});

/** A plugin module: Eva with its direction multiplied by a declared option `toyScale`. */
const PLUGIN = (evaTfjs: string) => `
import { registerOptimizer, evaAlgorithm, defineOptions, positive } from '${evaTfjs}';

const toyOptions = defineOptions({
  toyScale: {
    kind: 'number',
    default: 1,
    constraint: positive,
    description: "multiplies Eva's direction",
  },
});

registerOptimizer({
  name: 'evatoy',
  description: "Eva with a scaled direction (a plugin)",
  algorithm: {
    ...evaAlgorithm,
    name: 'EvaToy',
    options: { ...evaAlgorithm.options, ...toyOptions },
    precondition(state, layer, gradient, step) {
      const direction = evaAlgorithm.precondition(state, layer, gradient, step);
      return {
        ...direction,
        scaled(scale) {
          const { kernel, bias } = direction.scaled(scale);
          return {
            kernel: kernel.mul(step.toyScale),
            bias: bias == null ? null : bias.mul(step.toyScale),
          };
        },
      };
    },
  },
  testing: { learningRate: 0.05 },
});
`;

test('--plugin: a registered algorithm trains with its own option as a flag', async () => {
  const dir = tmp();
  try {
    const plugin = join(dir, 'eva-toy.mjs');
    // The plugin lives outside the repository: it imports eva-tfjs by its source's file URL.
    const evaTfjs = pathToFileURL(packagePath('../eva-tfjs/src/index.ts')).href;
    writeFileSync(plugin, PLUGIN(evaTfjs));
    const out = join(dir, 'out');
    const result = await cli([
      'train',
      '--plugin',
      plugin,
      '--optimizer',
      'evatoy',
      '--toy-scale',
      '0.5',
      '--epochs',
      '1',
      '--train-limit',
      '200',
      '--test-limit',
      '50',
      '--batch-size',
      '50',
      '--warmup-epochs',
      '0',
      '--backend',
      'cpu',
      '--out',
      out,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /evatoy on autoencoder\/mnist, \{[^}]*"toyScale":0\.5\}/);
    assert.equal(finiteLog(join(out, 'log.jsonl')).length, 1);
    const help = await cli(['train', `--plugin=${plugin}`, '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(
      help.stdout,
      /--toy-scale <x>\s+multiplies Eva's direction \(evatoy\);\s+default\s+1/,
    );
    assert.match(help.stdout, /"evatoy"/);
    const bad = await cli([
      'train',
      '--plugin',
      plugin,
      '--optimizer',
      'evatoy',
      '--toy-scale',
      '0',
    ]);
    assert.match(bad.stderr, /--toy-scale must be a number > 0, got '0'/);
    const missing = await cli(['train', '--plugin', join(dir, 'missing.mjs')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /eva-tfjs: --plugin .*missing\.mjs: Cannot find module/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('report: the best run of each earlier report side by side, without training', async () => {
  const { writeReport } = await import('../src/experiments/report.js');
  const run = (optimizer: string, lr: number, losses: number[]) => ({
    label: `${optimizer} lr=${lr}`,
    result: {
      model: 'mlp',
      dataset: 'tiny',
      optimizer,
      learningRate: lr,
      optimizerOptions: { learningRate: lr },
      task: 'reconstruction' as const,
      epochs: losses.map((l, i) => ({ epoch: i + 1, trainLoss: l, testLoss: l, seconds: i + 1 })),
      skippedSteps: 0,
      resumedAfter: 0,
    },
  });
  const root = tmp();
  const sgd = join(root, 'sgd-lr');
  const eva = join(root, 'eva-lr');
  const settings = { title: 'T', command: 'c', details: { model: 'mlp' } };
  await writeReport(sgd, [run('sgd', 0.1, [1, 0.9]), run('sgd', 1, [0.8, 0.6])], settings);
  await writeReport(eva, [run('eva', 0.1, [0.7, 0.4]), run('eva', 1, [0.9, Infinity])], settings);
  const out = join(root, 'best');
  const made = await cli(['report', '--from', `${sgd}:best,${eva}:best`, '--out', out]);
  assert.equal(made.code, 0, made.stderr);
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(summary, /\| sgd lr=1 \| 1 \|/);
  assert.match(summary, /\| eva lr=0\.1 \| 0\.1 \|/);
  assert.doesNotMatch(summary, /\| sgd lr=0\.1 \|/);
  assert.match(summary, /- runs from: .*sgd-lr:best, .*eva-lr:best/);
  assert.match(
    made.stdout,
    /eva lr=0\.1 reached sgd lr=1's final test loss 0\.60000 at epoch 2 of 2/,
  );
  const missing = await cli(['report', '--from', join(root, 'none'), '--out', join(root, 'x')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /--from .*none: .*results\.json does not exist/);
  assert.ok(!existsSync(join(root, 'x')), 'nothing created');
  const twice = await cli(['report', '--from', `${sgd},${sgd}:best`, '--out', join(root, 'y')]);
  assert.match(twice.stderr, /two runs are labelled 'sgd lr=1'/);
});

test('sweep: a diverging value is a result: reported, recorded, taken as finished on --resume', async () => {
  const out = tmp();
  const args = sgdLrSweep('0.01,1000000', 2, out);
  const first = await cli(args);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /sgd lr=1000000: Epoch 1: .*kept in the report as diverged/);
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(summary, /\| sgd lr=1000000 \(diverged in epoch 1\) \| 1000000 \| - \| - \|/);
  assert.match(summary, /Diverged runs .*\n\n- sgd lr=1000000, epoch 1: /);
  // The steps the diverging epoch skipped are counted (the last column).
  const row = /^\| sgd lr=1000000 \(diverged.*\| (\d+) \|$/m.exec(summary);
  assert.ok(row != null && Number(row[1]) > 0, `skipped steps of the diverged run: ${row?.[1]}`);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
    runs: Array<{ label: string; result: { diverged?: { epoch: number }; epochs: unknown[] } }>;
  };
  assert.deepEqual(
    results.runs.map((r) => [r.label, r.result.diverged?.epoch, r.result.epochs.length]),
    [
      ['sgd lr=0.01', undefined, 2],
      ['sgd lr=1000000', 1, 0],
    ],
  );
  const record = join(out, 'runs', 'sgd_lr=1000000', 'diverged.json');
  assert.ok(existsSync(record));
  // The report is lost (an interruption before it was written): --resume takes both runs.
  rmSync(join(out, 'results.json'));
  const resumed = await cli([...args, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /sgd lr=0\.01: finished earlier/);
  assert.match(resumed.stdout, /sgd lr=1000000: diverged earlier/);
  assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /diverged in epoch 1/);
  // A record of other settings is refused, naming the difference.
  const { loadDiverged } = await import('../src/cli/diverged-runs.js');
  const saved = JSON.parse(readFileSync(record, 'utf8')) as { settings: Record<string, unknown> };
  assert.throws(
    () =>
      loadDiverged(join(out, 'runs', 'sgd_lr=1000000'), { ...saved.settings, epochs: 5 } as never),
    /records a run with other settings \(epochs: saved 2, now 5\)/,
  );
});
