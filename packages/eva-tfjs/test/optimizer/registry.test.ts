/**
 * The registry: it builds by name and lists valid names and options in its errors, and every
 * registry name, as a tfjs optimizer, trains the autoencoder in `model.fit` without leaks and
 * resumes exactly from getWeights/setWeights; so do K-FAC and FOOF with their inverses, and
 * Shampoo with its roots, computed on a worker thread.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createOptimizer,
  createOptimizerByName,
  Eva,
  optimizerEntry,
  optimizerNames,
  optimizerOptionNames,
  isOptimizerName,
  SGD,
} from '../../src/index.js';
import { createAutoencoder } from '@eva-tfjs/experiments';
import { initializedAutoencoder, randomTensor, useCpu } from '../helpers.js';

before(useCpu);

test('the registry builds by name and lists valid names and options in its errors', () => {
  const model = createAutoencoder(6, [4, 2, 4]);
  // Every entry is complete; every built-in (typed) name is registered.
  for (const name of optimizerNames()) {
    const entry = optimizerEntry(name);
    assert.ok(entry.description.length > 0, name);
    assert.ok(entry.testing.learningRate > 0, name);
    assert.deepEqual(optimizerOptionNames(name), ['learningRate', ...Object.keys(entry.options)]);
  }
  assert.ok(optimizerNames().filter(isOptimizerName).length >= 11);
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
    new RegExp(`Unknown optimizer 'adam2'; valid names are ${optimizerNames().join(', ')}`),
  );
  assert.throws(
    () => createOptimizerByName('sgd', model, { learningRate: 1, damping: 1 }),
    /sgd: unknown option 'damping'; valid options are/,
  );
  model.dispose();
});

/** The registry's settings for the tests: a learning rate that trains the small autoencoder. */
const settings = (name: string) => {
  const { learningRate, options } = optimizerEntry(name).testing;
  return { learningRate, ...options };
};

/** Every registry name, and the worker-thread variants (label, name, extra options). */
const VARIANTS: Array<[string, string, Record<string, unknown>]> = [
  ...optimizerNames().map((name): [string, string, Record<string, unknown>] => [name, name, {}]),
  // (Interval 2: at 1 the worker warns that it only waits.)
  ['kfac+inverseWorker', 'kfac', { inverseWorker: true, invUpdateFreq: 2 }],
  ['foof+inverseWorker', 'foof', { inverseWorker: true, invUpdateFreq: 2 }],
  // Blocks of 4: the small autoencoder's kernels are preconditioned (at 128 they merge to rank 1).
  ['shampoo+rootWorker', 'shampoo', { rootWorker: true, blockSize: 4 }],
];

for (const [label, name, extra] of VARIANTS) {
  test(`${label}: trains the autoencoder in model.fit, no leaks, releases its state`, async () => {
    const model = initializedAutoencoder();
    const x = tf.matMul(randomTensor([48, 3], 20), randomTensor([3, 12], 21));
    const opt = createOptimizerByName(name, model, {
      ...settings(name),
      ...extra,
      weightDecay: 1e-4,
    });
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const first = await model.fit(x, x, { batchSize: 16, epochs: 1, verbose: 0, shuffle: false });
    const start = tf.memory().numTensors;
    const history = await model.fit(x, x, {
      batchSize: 16,
      epochs: 15,
      verbose: 0,
      shuffle: false,
    });
    assert.equal(tf.memory().numTensors, start, 'steady state: no tensor growth');
    const losses = [first.history.loss![0] as number, ...(history.history.loss as number[])];
    assert.ok(losses.every(Number.isFinite), `${name} losses finite`);
    assert.ok(losses.at(-1)! < 0.8 * losses[0]!, `${name}: loss ${losses[0]} -> ${losses.at(-1)}`);
    assert.equal(opt.iterations, 48);
    const before = tf.memory().numTensors;
    opt.dispose();
    assert.ok(tf.memory().numTensors < before, `${name} releases its state`);
    model.dispose();
  });

  test(`${label}: resume from getWeights/setWeights reproduces an uninterrupted run`, async () => {
    const batches = [0, 1, 2, 3, 4].map((i) => randomTensor([16, 12], 30 + i));
    const options = {
      ...settings(name),
      ...extra,
      weightDecay: 1e-4,
      // Inverses on alternate steps, so the resume lands between two inverse refreshes.
      ...(optimizerOptionNames(name).includes('invUpdateFreq') ? { invUpdateFreq: 2 } : {}),
    };
    const make = () => {
      const m = initializedAutoencoder();
      const o = createOptimizerByName(name, m, options);
      m.compile({ optimizer: o, loss: 'meanSquaredError' });
      return { m, o };
    };
    const train = async (m: tf.LayersModel, bs: tf.Tensor[]) => {
      const losses: number[] = [];
      for (const b of bs) losses.push((await m.trainOnBatch(b, b)) as number);
      return losses;
    };
    const reference = make();
    const full = await train(reference.m, batches);
    const firstRun = make();
    const head = await train(firstRun.m, batches.slice(0, 3));
    const savedModel = firstRun.m.getWeights().map((w) => w.clone());
    const savedState = (await firstRun.o.getWeights()).map((w) => ({
      name: w.name,
      tensor: w.tensor.clone(),
    }));
    firstRun.o.dispose();
    firstRun.m.dispose();
    const resumed = make();
    resumed.m.setWeights(savedModel);
    await resumed.o.setWeights(savedState);
    const tail = await train(resumed.m, batches.slice(3));
    assert.deepEqual([...head, ...tail], full);
    tf.dispose([...batches, ...savedModel, ...savedState.map((s) => s.tensor)]);
    for (const r of [reference, resumed]) {
      r.o.dispose();
      r.m.dispose();
    }
  });
}
