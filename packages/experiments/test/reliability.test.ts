/**
 * Nothing lost, nothing silent: every option is checked before any data loads or any directory
 * is created (in process: each refusal costs milliseconds); a resume refusal names each
 * differing setting and takes explicit defaults for omitted ones; an empty test set gives
 * absent test metrics; a diverging run stops with a clear error, never checkpointing non-finite
 * weights over a good checkpoint; the output directory is held by one run, its stale lock and
 * temporaries cleared. (Kills, interrupts and concurrent runs: fault-injection.test.ts.)
 */
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { enableFastKernels } from 'eva-tfjs';
import { CliContext } from '../src/cli/context.js';
import { holdOutput } from '../src/cli/output.js';
import { buildProgram } from '../src/cli/program.js';
import { resolveRunFlags } from '../src/cli/validation.js';
import type { RunFlags } from '../src/cli/run-flags.js';
import type { Dataset } from '../src/data/dataset.js';
import { checkpointFile, loadCheckpoint } from '../src/experiments/checkpoint.js';
import { writeReport } from '../src/experiments/report.js';
import { resolvedOptimizerOptions, settingDifferences } from '../src/experiments/run-settings.js';
import { runTraining, type RunConfig } from '../src/experiments/train-run.js';
import { randomValues, useCpu } from '../../eva-tfjs/test/helpers.js';

before(async () => {
  await useCpu();
  enableFastKernels();
});

const packagePath = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'eva-rel-'));

/** Runs the CLI in a subprocess. */
async function cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--conditions=eva-tfjs-source', '--import', 'tsx', packagePath('src/cli/main.ts'), ...args],
      { timeout: 120_000, maxBuffer: 16 * 2 ** 20 },
    );
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: err.code ?? -1 };
  }
}

/**
 * The error a command line ends with, run in this process (the checks come before any data or
 * directory, so a refused command costs nothing). Small settings keep a wrongly accepted
 * command cheap.
 */
async function refusal(args: string[]): Promise<string> {
  const quiet = { writeErr: () => {}, writeOut: () => {}, outputError: () => {} };
  const program = buildProgram(new CliContext(args)).exitOverride().configureOutput(quiet);
  for (const command of program.commands) command.exitOverride().configureOutput(quiet);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    return (e as Error).message;
  }
  return assert.fail(`not refused: ${args.join(' ')}`);
}

const cheap = [
  '--model',
  'mlp',
  '--train-limit',
  '50',
  '--test-limit',
  '10',
  '--batch-size',
  '50',
  '--epochs',
  '1',
  '--backend',
  'cpu',
];

test('every option is checked before data loads or a directory is created', async () => {
  const dir = tmp();
  try {
    const out = join(dir, 'out');
    const cases: Array<[string[], RegExp]> = [
      [['compare', '--optimizers', ','], /^no optimizers given \(--optimizers is empty\)$/],
      [['compare', '--optimizers', 'sgd,eva,SGD'], /--optimizers lists 'SGD' twice/],
      [
        ['sweep', '--optimizer', 'sgd', '--param', 'lr', '--values', '0.03,0'],
        /^--values lr=0: --lr must be > 0, got 0$/,
      ],
      [
        ['sweep', '--optimizer', 'eva', '--param', 'damping', '--values', '0.01,-1'],
        /^--values damping=-1: .*damping.*> 0/,
      ],
      [
        ['sweep', '--optimizer', 'sgd', '--param', 'lr', '--values', '0.1,0.10'],
        /^--values lists '0\.1' twice$/,
      ],
      [['compare', '--lr', '0'], /--lr must be > 0, got 0/],
      [
        ['train', '--epochs', '2', '--warmup-epochs', '2'],
        /--warmup-epochs must be .*less than --epochs \(2\)/,
      ],
      [['train', '--warmup-epochs', '-1'], /--warmup-epochs must be at least 0/],
      [['train', '--resume'], /^--resume: nothing to resume from: .*out does not exist/],
    ];
    for (const backend of ['webgl', 'webgpu']) {
      cases.push([
        ['train', '--backend', backend],
        new RegExp(
          `^Backend '${backend}' is a browser backend; in Node use cpu, wasm or tensorflow`,
        ),
      ]);
    }
    for (const [args, expected] of cases) {
      const message = await refusal([
        ...args.slice(0, 1),
        ...cheap,
        ...args.slice(1),
        '--out',
        out,
      ]);
      assert.match(message, expected, args.join(' '));
      assert.ok(!existsSync(out), `${args.join(' ')} created ${out}`);
    }
    // A directory without a checkpoint: said so (not a silent fresh start).
    mkdirSync(out);
    assert.match(
      await refusal(['train', ...cheap, '--out', out, '--resume']),
      /nothing to resume from: .*out holds no checkpoint \(.*checkpoint\.bin does not exist\)/,
    );
    assert.deepEqual(readdirSync(out), []);
    mkdirSync(join(out, 'checkpoint'));
    writeFileSync(join(out, 'checkpoint', 'checkpoint.json'), '{}');
    assert.match(
      await refusal(['train', ...cheap, '--out', out, '--resume']),
      /checkpoint\.json: a checkpoint of an older eva-tfjs \(format 1\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mpirun -np N without --distributed is refused with the fix', async () => {
  const saved = process.env.OMPI_COMM_WORLD_SIZE;
  process.env.OMPI_COMM_WORLD_SIZE = '2';
  try {
    const out = join(tmpdir(), `eva-rel-mpi-${process.pid}`);
    for (const command of ['train', 'compare', 'sweep']) {
      const extra = command === 'sweep' ? ['--param', 'lr', '--values', '0.1'] : [];
      assert.match(
        await refusal([command, ...cheap, ...extra, '--out', out]),
        /started by mpirun as one of 2 processes without --distributed.*add --distributed, or run without mpirun/,
      );
    }
    assert.match(await refusal(['bench', '--out', out]), /run it without mpirun/);
    assert.ok(!existsSync(out));
  } finally {
    if (saved === undefined) delete process.env.OMPI_COMM_WORLD_SIZE;
    else process.env.OMPI_COMM_WORLD_SIZE = saved;
  }
});

test('the default warm-up fits any run: 1 epoch, or 0 for a 1-epoch run', () => {
  const flags = (epochs: number, warmupEpochs?: number) =>
    ({ epochs, warmupEpochs, lr: 0.1, backend: 'cpu', collectiveTimeout: 300 }) as RunFlags;
  assert.equal(resolveRunFlags(flags(1)).warmupEpochs, 0);
  assert.equal(resolveRunFlags(flags(5)).warmupEpochs, 1);
  assert.equal(resolveRunFlags(flags(5, 2.5)).warmupEpochs, 2.5);
  assert.throws(() => resolveRunFlags(flags(1, 1)), /use at most 0/);
});

test('a resume refusal names each differing setting; explicit defaults equal omitted ones', () => {
  const settings = (optimizer: string, options: Record<string, unknown>, epochs = 2) => ({
    model: 'mlp',
    dataset: 'mnist',
    trainCount: 200,
    optimizer,
    optimizerOptions: { learningRate: 0.1, ...options },
    epochs,
    batchSize: 50,
    seed: 0,
    warmupEpochs: 0,
    decay: 'linear',
  });
  const saved = settings('eva', { weightDecay: 5e-4 });
  assert.deepEqual(
    settingDifferences(saved, settings('eva', { weightDecay: 5e-4, momentum: 0.9 })),
    [],
  );
  assert.deepEqual(
    settingDifferences(
      saved,
      settings('eva', { weightDecay: 5e-4, damping: 0.03, klClip: 0.001, nesterov: false }),
    ),
    [],
    "eva's declared defaults",
  );
  assert.deepEqual(
    settingDifferences(saved, settings('eva', { learningRate: 0.05, weightDecay: 5e-4 }, 3)),
    ['epochs: saved 2, now 3', 'lr: saved 0.1, now 0.05'],
  );
  assert.deepEqual(settingDifferences(saved, settings('eva', { klClip: null })), [
    'weight-decay: saved 0.0005, now 0',
    'kl-clip: saved 0.001, now none',
  ]);
  assert.deepEqual(settingDifferences(saved, settings('sgd', {})), [
    'optimizer: saved eva, now sgd',
  ]);
  // Momentum 0 turns a default Nesterov off (as the registry builds it).
  assert.deepEqual(
    settingDifferences(
      settings('evas', { momentum: 0 }),
      settings('evas', { momentum: 0, nesterov: false }),
    ),
    [],
  );
  assert.equal(resolvedOptimizerOptions('evas', { learningRate: 1 }).nesterov, true);
  assert.throws(
    () => resolvedOptimizerOptions('eva', { learningRate: 0 }),
    /learning rate must be a number > 0, got 0/,
  );
});

/** A tiny 8x8x3 classification set whose class is visible in the mean intensity. */
function tinyImages(count: number, seed: number): Dataset['train'] {
  const images = randomValues(count * 192, seed, 0.3);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    labels[n] = n % 3;
    for (let i = 0; i < 192; i++) images[n * 192 + i]! += labels[n]! - 1;
  }
  return { images, labels, count };
}

const tiny: Dataset = {
  name: 'tiny',
  height: 8,
  width: 8,
  channels: 3,
  classes: 3,
  train: tinyImages(32, 1),
  test: tinyImages(12, 2),
};

const config = (options: Partial<RunConfig> = {}): RunConfig => ({
  model: 'mlp',
  optimizer: 'sgd',
  optimizerOptions: { learningRate: 0.05 },
  epochs: 2,
  batchSize: 16,
  seed: 1,
  ...options,
});

test('runTraining: explicit defaults resume; per-epoch skipped steps; refusals name settings', async () => {
  const dir = tmp();
  try {
    const first = await runTraining(tiny, config({ optimizer: 'eva', checkpointDir: dir }));
    assert.deepEqual(
      first.epochs.map((e) => e.skippedSteps),
      [0, 0],
    );
    assert.equal(first.skippedSteps, 0);
    const published: number[] = [];
    const resumed = await runTraining(
      tiny,
      config({
        optimizer: 'eva',
        optimizerOptions: { learningRate: 0.05, momentum: 0.9, damping: 0.03 },
        checkpointDir: dir,
        resume: true,
        onCheckpoint: (epochs) => published.push(epochs.length),
      }),
    );
    assert.equal(resumed.resumedAfter, 2);
    assert.deepEqual(published, [2], 'told the restored records (to rewrite the log from)');
    await assert.rejects(
      runTraining(
        tiny,
        config({
          optimizer: 'eva',
          optimizerOptions: { learningRate: 0.1, momentum: 0.8 },
          checkpointDir: dir,
          resume: true,
        }),
      ),
      /is of another run \(lr: saved 0\.05, now 0\.1; momentum: saved 0\.9, now 0\.8\)/,
    );
    await assert.rejects(
      runTraining(tiny, config({ checkpointDir: join(dir, 'none'), resume: true })),
      /No checkpoint in/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an empty test set: test metrics are absent (null, n/a), not a crash', async () => {
  const empty = {
    ...tiny,
    test: { images: new Float32Array(0), labels: new Uint8Array(0), count: 0 },
  };
  const result = await runTraining(empty, config());
  for (const e of result.epochs) {
    assert.equal(e.testLoss, null);
    assert.equal(e.testAccuracy, null);
    assert.ok(Number.isFinite(e.trainLoss));
  }
  const dir = tmp();
  try {
    const summary = await writeReport(dir, [{ label: 'sgd', result }], {
      title: 'T',
      command: 'c',
      details: {},
    });
    assert.match(summary, /\| sgd \| 0\.05 \| [\d.]+ \| n\/a \| n\/a \| n\/a \|/);
    const json = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as {
      runs: Array<{ result: { epochs: Array<{ testLoss: unknown; skippedSteps: unknown }> } }>;
    };
    assert.equal(json.runs[0]!.result.epochs[0]!.testLoss, null);
    assert.equal(json.runs[0]!.result.epochs[0]!.skippedSteps, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('non-finite weights are never checkpointed over a good checkpoint', async () => {
  const dir = tmp();
  try {
    // One step per epoch: an overflowing learning rate turns the weights non-finite after the
    // epoch's only step, whose loss was still finite.
    const oneStep = { batchSize: 32, epochs: 1, checkpointDir: dir };
    await runTraining(tiny, config(oneStep));
    const good = readFileSync(checkpointFile(dir));
    const before = tf.memory().numTensors;
    await assert.rejects(
      runTraining(tiny, config({ ...oneStep, optimizerOptions: { learningRate: 1e39 } })),
      /Epoch 1: \d+ model weights .*are NaN or infinite \(not checkpointed\); the run diverged: lower the learning rate; the last good checkpoint, .*checkpoint\.bin, is kept as it was/,
    );
    assert.equal(tf.memory().numTensors, before, 'no leaks');
    assert.ok(readFileSync(checkpointFile(dir)).equals(good), 'the good checkpoint is untouched');
    const kept = loadCheckpoint(dir);
    tf.dispose([...kept.modelWeights, ...kept.optimizerWeights.map((w) => w.tensor)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('train: a diverging run exits non-zero with a clear error, the previous checkpoint intact', async () => {
  const dir = tmp();
  try {
    const out = join(dir, 'out');
    // --epochs 1 with the default warm-up, and no test samples.
    const good = await cli([
      'train',
      ...cheap,
      '--test-limit',
      '0',
      '--optimizer',
      'sgd',
      '--out',
      out,
    ]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /schedule 0 warm-up epochs/);
    assert.match(
      good.stdout,
      /sgd epoch {3}1 {2}train loss [\d.]+ {2}test loss n\/a {2}train acc [\d.]+ {2}test acc n\/a/,
    );
    assert.match(
      good.stdout,
      /final train loss [\d.]+, test loss n\/a, test accuracy n\/a; skipped steps 0/,
    );
    const checkpoint = readFileSync(join(out, 'checkpoint', 'checkpoint.bin'));
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8');
    assert.deepEqual(
      (JSON.parse(log) as { skippedSteps: number; testLoss: unknown }).skippedSteps,
      0,
    );
    // The autoencoder (mean squared error) overflows at this learning rate.
    const diverged = await cli([
      'train',
      '--data',
      'curves',
      '--train-limit',
      '32',
      '--test-limit',
      '16',
      '--batch-size',
      '16',
      '--epochs',
      '1',
      '--backend',
      'cpu',
      '--optimizer',
      'sgd',
      '--lr',
      '1e4',
      '--out',
      out,
    ]);
    assert.equal(diverged.code, 1, diverged.stderr);
    assert.match(
      diverged.stderr,
      /eva-tfjs: sgd: Epoch 1: .*the run diverged: lower the learning rate; the last good checkpoint, .*checkpoint\.bin, is kept as it was/,
    );
    assert.ok(readFileSync(join(out, 'checkpoint', 'checkpoint.bin')).equals(checkpoint));
    assert.equal(readFileSync(join(out, 'log.jsonl'), 'utf8'), log);
    const kept = loadCheckpoint(join(out, 'checkpoint'));
    tf.dispose([...kept.modelWeights, ...kept.optimizerWeights.map((w) => w.tensor)]);
    assert.ok(!existsSync(join(out, '.lock')), 'the lock is released');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the output directory: one holder; a stale lock is taken over, stale temporaries go', async () => {
  const dir = tmp();
  const said: string[] = [];
  const log = console.log;
  console.log = (text: string) => said.push(text);
  try {
    const out = join(dir, 'out');
    mkdirSync(join(out, 'checkpoint'), { recursive: true });
    // A lock and temporaries left by a killed run (a pid that is not running).
    writeFileSync(join(out, '.lock'), JSON.stringify({ pid: 2 ** 22 + 1, started: 'then' }));
    writeFileSync(join(out, 'log.jsonl.tmp-123'), 'partial');
    writeFileSync(join(out, 'checkpoint', 'checkpoint.bin.tmp-123'), 'partial');
    const context = new CliContext([]);
    const held = holdOutput(context, out, [join(out, 'checkpoint')]);
    assert.match(
      said.join('\n'),
      /took over a stale lock in .*out \(pid 4194305 is no longer running\)/,
    );
    assert.match(said.join('\n'), /Removed 2 temporary file\(s\) of an interrupted write/);
    assert.deepEqual(readdirSync(join(out, 'checkpoint')), []);
    assert.throws(() => holdOutput(context, out), /is in use by another run \(pid \d+/);
    held.release();
    assert.ok(!existsSync(join(out, '.lock')));
    // Every command refuses a directory in use before loading data or benchmarking.
    const busy = join(dir, 'busy');
    mkdirSync(busy);
    const holder = { pid: process.ppid, host: hostname(), started: 'now' };
    writeFileSync(join(busy, '.lock'), JSON.stringify(holder));
    for (const args of [
      ['train', ...cheap],
      ['compare', ...cheap],
      ['sweep', ...cheap, '--param', 'lr', '--values', '0.1'],
      ['bench', '--backend', 'cpu'],
    ]) {
      assert.match(
        await refusal([...args, '--out', busy]),
        new RegExp(`busy is in use by another run \\(pid ${process.ppid} on `),
        args[0],
      );
    }
    assert.deepEqual(readdirSync(busy), ['.lock']);
    // A directory the run created and left empty is removed with the lock.
    const fresh = join(dir, 'fresh');
    holdOutput(context, fresh).release();
    assert.ok(!existsSync(fresh));
  } finally {
    console.log = log;
    rmSync(dir, { recursive: true, force: true });
  }
});
