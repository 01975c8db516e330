/**
 * The experiment machinery on small data: the classifiers train with second-order optimizers
 * (BatchNorm, residual connections), checkpoints round-trip and a resumed run equals an
 * uninterrupted one, reports hold the table, targets and plots.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../src/models/create-model.js';
import { initializeLikePyTorch } from '../src/models/initialize.js';
import { createOptimizerByName, enableFastKernels } from 'eva-tfjs';
import { loadCheckpoint, saveCheckpoint } from '../src/experiments/checkpoint.js';
import { runTraining, type RunResult } from '../src/experiments/train-run.js';
import {
  defaultTarget,
  timeBasis,
  verdicts,
  writeReport,
  type LabelledRun,
} from '../src/experiments/report.js';
import type { Dataset } from '../src/data/dataset.js';
import { randomValues, useCpu } from '../../eva-tfjs/test/helpers.js';

before(async () => {
  await useCpu();
  enableFastKernels();
});

const tmp = () => mkdtempSync(join(tmpdir(), 'eva-exp-'));

/** A tiny 8x8x3 classification set whose class is visible in the mean intensity. */
function tinyImages(count: number, seed: number): Dataset['train'] {
  const images = randomValues(count * 8 * 8 * 3, seed, 0.3);
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
  train: tinyImages(48, 1),
  test: tinyImages(12, 2),
};

for (const name of ['mlp', 'vgg', 'resnet'] as const) {
  test(`${name}: builds for the data, trains with Eva and K-FAC in fit without leaks`, async () => {
    for (const optimizer of ['eva', 'kfac']) {
      const { model, task, input } = createModel(name, tiny);
      assert.equal(task, 'classification');
      assert.equal(input, name === 'mlp' ? 'flat' : 'image');
      initializeLikePyTorch(model, 0);
      const opt = createOptimizerByName(optimizer, model, { learningRate: 0.05 });
      model.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      const shape = input === 'flat' ? [48, 192] : [48, 8, 8, 3];
      const x = tf.tensor(tiny.train.images, shape);
      const y = tf.oneHot(tf.tensor1d(tiny.train.labels, 'int32'), 3).toFloat();
      await model.fit(x, y, { batchSize: 16, epochs: 1, verbose: 0 });
      const startTensors = tf.memory().numTensors;
      const history = await model.fit(x, y, { batchSize: 16, epochs: 2, verbose: 0 });
      assert.equal(tf.memory().numTensors, startTensors, `${name}/${optimizer}: no growth`);
      const losses = history.history.loss as number[];
      assert.ok(losses.every(Number.isFinite));
      assert.ok((opt as unknown as { layers: unknown[] }).layers.length >= 2, 'captured layers');
      tf.dispose([x, y]);
      opt.dispose();
      model.dispose();
    }
  });
}

test('models: unknown names and classifiers on unlabelled data are clear errors', () => {
  assert.throws(
    () => createModel('vit', tiny),
    /Unknown model 'vit'; valid names are autoencoder, mlp, vgg, resnet/,
  );
  assert.throws(
    () => createModel('vgg', { ...tiny, name: 'curves', classes: 1 }),
    /'vgg' is a classifier; dataset 'curves' has no class labels/,
  );
});

test('initializeLikePyTorch: kernels and biases uniform in 1/sqrt(fanIn); BatchNorm untouched', () => {
  const { model } = createModel('vgg', tiny);
  initializeLikePyTorch(model, 3);
  for (const w of model.weights) {
    const values = w.read().dataSync();
    if (w.originalName.includes('batch_normalization')) {
      const expected =
        w.originalName.endsWith('gamma') || w.originalName.endsWith('moving_variance') ? 1 : 0;
      assert.ok(
        values.every((v) => v === expected),
        `${w.originalName} keeps its initial value`,
      );
    } else if (w.originalName.endsWith('kernel')) {
      const fanIn = w.shape.slice(0, -1).reduce((a, b) => a! * b!, 1)!;
      assert.ok(values.every((v) => Math.abs(v) <= 1 / Math.sqrt(fanIn)));
    }
  }
  model.dispose();
});

test('checkpoints round-trip tensors and settings; corrupt files are named', async () => {
  const dir = tmp();
  const a = tf.tensor2d([
    [1, 2],
    [3, 4],
  ]);
  const b = tf.scalar(7, 'int32');
  await saveCheckpoint(dir, { epochs: [1, 2] }, [a], [{ name: 'iter', tensor: b }]);
  const loaded = loadCheckpoint(dir);
  assert.deepEqual(loaded.meta, { epochs: [1, 2] });
  assert.deepEqual(loaded.modelWeights[0]!.arraySync(), [
    [1, 2],
    [3, 4],
  ]);
  assert.equal(loaded.optimizerWeights[0]!.name, 'iter');
  assert.equal(loaded.optimizerWeights[0]!.tensor.dtype, 'int32');
  tf.dispose([a, b, ...loaded.modelWeights, ...loaded.optimizerWeights.map((w) => w.tensor)]);
  writeFileSync(join(dir, 'checkpoint.bin'), new Uint8Array(3));
  assert.throws(() => loadCheckpoint(dir), /checkpoint\.bin: not an eva-tfjs checkpoint/);
  assert.throws(() => loadCheckpoint(tmp()), /No checkpoint in/);
});

test('runTraining: classifier metrics; a resumed run equals the uninterrupted one', async () => {
  const config = {
    model: 'mlp',
    optimizer: 'eva',
    optimizerOptions: { learningRate: 0.05, weightDecay: 5e-4 },
    epochs: 3,
    batchSize: 16,
    seed: 2,
    warmupEpochs: 1,
  };
  const before = tf.memory().numTensors;
  const full = await runTraining(tiny, config);
  assert.equal(tf.memory().numTensors, before, 'no leaks');
  assert.ok(
    full.epochs.every((e) => e.testAccuracy! >= 0 && e.testAccuracy! <= 1 && e.trainAccuracy! >= 0),
  );
  const cpu = full.epochs.map((e) => e.cpuSeconds!);
  assert.ok(
    cpu.every((c, i) => c > 0 && c >= (cpu[i - 1] ?? 0)),
    `CPU seconds grow from epoch to epoch: ${cpu.join(', ')}`,
  );
  for (const e of full.epochs) {
    const scale = e.scale!;
    assert.ok(scale, `epoch ${e.epoch} records Eva's KL clipping factor`);
    assert.equal(scale.steps, 3, 'one factor per step');
    assert.ok(scale.min > 0 && scale.min <= scale.mean && scale.mean <= 1, JSON.stringify(scale));
    assert.ok(scale.belowOne >= 0 && scale.belowOne <= 1);
  }
  const dir = tmp();
  const interrupted = await runTraining(tiny, {
    ...config,
    epochs: 3,
    checkpointDir: dir,
    onEpoch: (r) => {
      if (r.epoch === 2) throw new Error('interrupt');
    },
  }).catch((e: Error) => e);
  assert.ok(interrupted instanceof Error && interrupted.message === 'interrupt');
  // The checkpoint of epoch 1 was written before the interruption at epoch 2.
  const resumed = await runTraining(tiny, { ...config, checkpointDir: dir, resume: true });
  assert.equal(resumed.resumedAfter, 1);
  assert.deepEqual(
    resumed.epochs.map((e) => [e.trainLoss, e.testLoss, e.testAccuracy, e.scale]),
    full.epochs.map((e) => [e.trainLoss, e.testLoss, e.testAccuracy, e.scale]),
  );
  await assert.rejects(
    runTraining(tiny, { ...config, batchSize: 8, checkpointDir: dir, resume: true }),
    /is of another run/,
  );
  assert.equal(tf.memory().numTensors, before, 'no leaks after resume and errors');
});

test('runTraining: no scaling factor is recorded for SGD or for Eva without KL clipping', async () => {
  const config = { model: 'mlp', epochs: 1, batchSize: 16, seed: 3 };
  const sgd = await runTraining(tiny, {
    ...config,
    optimizer: 'sgd',
    optimizerOptions: { learningRate: 0.05 },
  });
  const unclipped = await runTraining(tiny, {
    ...config,
    optimizer: 'eva',
    optimizerOptions: { learningRate: 0.05, klClip: null },
  });
  const clipped = await runTraining(tiny, {
    ...config,
    optimizer: 'eva',
    optimizerOptions: { learningRate: 50 },
  });
  assert.equal(sgd.epochs[0]!.scale, undefined);
  assert.equal(unclipped.epochs[0]!.scale, undefined);
  // At lr 50 the clip binds at every step.
  assert.equal(clipped.epochs[0]!.scale!.belowOne, 1);
  assert.ok(clipped.epochs[0]!.scale!.mean < 0.1);
});

test('reports: summary table, time to target, plots and JSON', async () => {
  const run = (label: string, losses: number[]): { label: string; result: RunResult } => ({
    label,
    result: {
      model: 'autoencoder',
      dataset: 'tiny',
      optimizer: label,
      learningRate: 0.1,
      optimizerOptions: { learningRate: 0.1 },
      task: 'reconstruction',
      epochs: losses.map((l, i) => ({
        epoch: i + 1,
        trainLoss: l,
        testLoss: l,
        seconds: (i + 1) * (label === 'sgd' ? 1 : 2),
      })),
      skippedSteps: 0,
      resumedAfter: 0,
    },
  });
  const runs = [run('sgd', [1, 0.8, 0.6]), run('eva', [0.7, 0.5, 0.4])];
  assert.equal(defaultTarget(runs), 0.6);
  const dir = tmp();
  const summary = await writeReport(dir, runs, {
    title: 'T',
    command: 'eva-tfjs compare x',
    details: { backend: 'cpu' },
  });
  assert.match(
    summary,
    /\| sgd \| 0\.1 \| 0\.60000 \| 0\.60000 \| 0\.60000 \| 3\.0 \| - \| 1\.00 \| 3 \| 3\.0 \| 0 \|/,
  );
  assert.match(
    summary,
    /\| eva \| 0\.1 \| 0\.40000 \| 0\.40000 \| 0\.40000 \| 6\.0 \| - \| 2\.00 \| 2 \| 4\.0 \| 0 \|/,
  );
  assert.match(summary, /eva-tfjs compare x/);
  assert.match(
    summary,
    /- eva reached sgd's final test loss 0\.60000 at epoch 2 of 3, in 4\.0 s against 3\.0 s/,
  );
  assert.deepEqual(verdicts([runs[0]!, run('kfac', [0.9, 0.8, 0.7])]), [
    "kfac did not reach sgd's final test loss 0.60000 in 3 epochs (its best: 0.70000)",
  ]);
  assert.deepEqual(verdicts([runs[1]!]), [], 'no verdict without an SGD run');
  // Diverged runs: left out of the default target; a verdict says so; a diverged SGD gives none.
  const divergedAfter = (r: LabelledRun, epochs: number): LabelledRun => ({
    label: r.label,
    result: {
      ...r.result,
      epochs: r.result.epochs.slice(0, epochs),
      diverged: { epoch: epochs + 1, reason: 'the train loss is NaN' },
    },
  });
  const kfacDiverged = divergedAfter(run('kfac', [0.95, 0.1, 0.1]), 1);
  assert.equal(defaultTarget([...runs, kfacDiverged]), 0.6, 'the diverged run is left out');
  assert.deepEqual(verdicts([runs[0]!, kfacDiverged]), [
    "kfac diverged in epoch 2 before reaching sgd's final test loss 0.60000 (its best before: 0.95000)",
  ]);
  assert.deepEqual(verdicts([divergedAfter(runs[0]!, 2), runs[1]!]), []);
  for (const file of [
    'test-loss-vs-epoch.svg',
    'test-loss-vs-time.svg',
    'train-loss-vs-epoch.svg',
  ]) {
    const svg = readFileSync(join(dir, file), 'utf8');
    assert.match(svg, /^<svg/);
    assert.match(svg, /eva/);
  }
  assert.ok(existsSync(join(dir, 'results.json')));
  const withTarget = await writeReport(tmp(), runs, {
    title: 'T',
    command: 'c',
    details: {},
    target: 0.45,
  });
  assert.match(withTarget, /\| sgd \|.*\| not reached \| - \| 0 \|/);
  assert.match(summary, /- time: wall-clock seconds/);

  // With CPU times in every record, times to target and per-epoch ratios use them.
  const withCpu: LabelledRun[] = runs.map(({ label, result }) => ({
    label,
    result: {
      ...result,
      epochs: result.epochs.map((e, i) => ({ ...e, cpuSeconds: (i + 1) * 0.5 })),
    },
  }));
  const cpuSummary = await writeReport(tmp(), withCpu, { title: 'T', command: 'c', details: {} });
  assert.match(cpuSummary, /- time: CPU seconds/);
  assert.doesNotMatch(summary, /Scaling factor/, 'no scaling section without factors');
  const scaledRuns: LabelledRun[] = [
    runs[0]!,
    {
      label: 'eva',
      result: {
        ...runs[1]!.result,
        epochs: runs[1]!.result.epochs.map((e, i) =>
          i === 0 ? e : { ...e, scale: { mean: 0.25 * i, min: 0.1, belowOne: 0.5, steps: 4 } },
        ),
      },
    },
  ];
  const scaledSummary = await writeReport(tmp(), scaledRuns, {
    title: 'T',
    command: 'c',
    details: {},
  });
  assert.match(scaledSummary, /Scaling factor/);
  assert.match(scaledSummary, /- eva: 1: -, 2: 0\.250 \(50%\), 3: 0\.500 \(50%\)/);
  assert.doesNotMatch(scaledSummary, /- sgd: 1:/);
  assert.match(cpuSummary, /\| eva \|.*\| 6\.0 \| 1\.5 \| 1\.00 \| 2 \| 1\.0 \| 0 \|/);
  assert.deepEqual(verdicts(withCpu), [
    "eva reached sgd's final test loss 0.60000 at epoch 2 of 3, in 1.0 CPU s against 1.5 CPU s",
  ]);
  // One record without a CPU time sends the whole report back to wall-clock time.
  delete withCpu[0]!.result.epochs[0]!.cpuSeconds;
  assert.equal(timeBasis(withCpu).unit, 's');
});
