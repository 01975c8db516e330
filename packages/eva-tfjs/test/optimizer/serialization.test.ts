/**
 * Models saved with their optimizer (`model.save(handler, {includeOptimizer: true})`) load with
 * `tf.loadLayersModel` and predict; `attachOptimizer` gives wrapped optimizers their model and
 * state back, so `fit` continues exactly as the uninterrupted run.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attachOptimizer,
  createOptimizer,
  createOptimizerByName,
  DetachedOptimizer,
  Eva,
  optimizerEntry,
  optimizerNames,
  SGD,
} from '../../src/index.js';
import { createAutoencoder, initializeLikePyTorch } from '@eva-tfjs/experiments';
import { randomTensor, saveToMemory, useCpu } from '../helpers.js';

before(useCpu);

function modelFor(seed: number): tf.Sequential {
  const model = createAutoencoder(12, [8, 3, 8]);
  initializeLikePyTorch(model, seed);
  return model;
}

const fitOptions = { batchSize: 16, epochs: 2, verbose: 0 as const, shuffle: false };

async function roundTrip(name: string, options: Record<string, unknown> = {}) {
  const x = tf.matMul(randomTensor([48, 3], 7), randomTensor([3, 12], 8));
  const model = modelFor(3);
  const { learningRate, options: testOptions } = optimizerEntry(name).testing;
  const optimizer = createOptimizerByName(name, model, {
    learningRate,
    ...testOptions,
    ...options,
  });
  model.compile({ optimizer, loss: 'meanSquaredError' });
  await model.fit(x, x, fitOptions);
  const artifacts = await saveToMemory(model);
  await model.fit(x, x, fitOptions);
  const expected = model.getWeights().map((w) => w.arraySync());

  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const prediction = loaded.predict(x) as tf.Tensor;
  assert.ok(prediction.dataSync().every(Number.isFinite), `${name}: the loaded model predicts`);
  prediction.dispose();
  return { x, model, optimizer, artifacts, loaded, expected };
}

const RESUMED: ReadonlyArray<[string, Record<string, unknown>]> = [
  ['eva', {}],
  ['kfac', {}],
  ['shampoo', {}],
  ['sgd', {}],
  ['adamw', {}],
  // Blocks of 4: Shampoo then preconditions the autoencoder's kernels and keeps state. The
  // reference Nesterov runs on the library's SGD as the base optimizer.
  ['shampoo', { nesterovVariant: 'reference', blockSize: 4 }],
  ['evas', { nesterovVariant: 'reference' }],
];

for (const [name, options] of RESUMED) {
  const label = Object.keys(options).length > 0 ? `${name} ${JSON.stringify(options)}` : name;
  test(`${label}: save with the optimizer, load, attach, fit continues exactly`, async () => {
    const { x, model, optimizer, loaded, expected } = await roundTrip(name, options);
    const attached = await attachOptimizer(loaded);
    assert.equal(attached.getClassName(), optimizer.getClassName());
    assert.equal(attached.iterations, 6);
    if ('nesterovVariant' in options) {
      const base = (attached as unknown as { base: tf.Optimizer }).base;
      assert.equal(base.getClassName(), SGD.className);
    }
    await loaded.fit(x, x, fitOptions);
    const weights = loaded.getWeights().map((w) => w.arraySync());
    assert.deepEqual(
      weights,
      expected,
      `${name}: the resumed run differs from the uninterrupted one`,
    );
    for (const m of [model, loaded]) {
      m.optimizer.dispose();
      m.dispose();
    }
    x.dispose();
  });
}

test('every registry optimizer saves with its model and loads for predict', async () => {
  for (const name of optimizerNames()) {
    const { x, model, optimizer, loaded } = await roundTrip(name);
    assert.equal(loaded.optimizer.getClassName(), optimizer.getClassName(), name);
    for (const m of [model, loaded]) {
      m.optimizer.dispose();
      m.dispose();
    }
    x.dispose();
  }
});

test('a loaded wrapped optimizer refuses to train until attached, and saves again unchanged', async () => {
  const { x, model, artifacts, loaded } = await roundTrip('eva');
  assert.equal(loaded.optimizer.constructor, DetachedOptimizer);
  await assert.rejects(
    loaded.fit(x, x, fitOptions),
    /Eva was loaded from a saved model.*attachOptimizer\(model\)/,
  );
  const again = await saveToMemory(loaded);
  assert.deepEqual(again.trainingConfig, artifacts.trainingConfig);
  assert.deepEqual(
    again.weightSpecs?.filter((s) => s.group === 'optimizer').map((s) => [s.name, s.shape]),
    artifacts.weightSpecs?.filter((s) => s.group === 'optimizer').map((s) => [s.name, s.shape]),
  );
  const reloaded = await tf.loadLayersModel(tf.io.fromMemory(again));
  const eva = await attachOptimizer(reloaded);
  assert.equal(eva.iterations, 6);
  for (const m of [model, loaded, reloaded]) {
    m.optimizer.dispose();
    m.dispose();
  }
  x.dispose();
});

test('layer names in options survive saving; function options must be given again', async () => {
  const model = modelFor(1);
  const skipped = model.layers[1]!.name;
  assert.match(skipped, /_/, 'the test needs a layer name that tfjs would camel-case');
  const eva = createOptimizer('eva', model, {
    learningRate: 0.05,
    skipLayers: [skipped],
    damping: (step) => 0.03 + 0.001 * step,
  });
  model.compile({ optimizer: eva, loss: 'meanSquaredError' });
  const x = randomTensor([16, 12], 2);
  await model.fit(x, x, fitOptions);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(await saveToMemory(model)));
  await assert.rejects(
    attachOptimizer(loaded),
    /Eva: option 'damping' was a function when the model was saved.*attachOptimizer\(model, \{ damping: \.\.\. \}\)/,
  );
  const attached = (await attachOptimizer(loaded, { damping: 0.03 })) as Eva;
  assert.deepEqual(
    attached.layers.map((l) => l.path),
    eva.layers.map((l) => l.path),
    'skipLayers came back with the same names',
  );
  for (const m of [model, loaded]) {
    m.optimizer.dispose();
    m.dispose();
  }
  x.dispose();
});

test('attachOptimizer on a model without a saved optimizer is a clear error', async () => {
  const model = modelFor(1);
  await assert.rejects(
    attachOptimizer(model),
    /the model has no optimizer.*includeOptimizer: true/,
  );
  model.dispose();
});

test('createOptimizer is typed by name and rejects unknown skipLayers names', () => {
  const model = modelFor(1);
  const eva: Eva = createOptimizer('eva', model, { learningRate: 0.1, damping: 0.01 });
  eva.dispose();
  // A misspelt option is a compile error (checked by the type-check), and a run-time one.
  assert.throws(
    // @ts-expect-error: 'dampng' is not an option of eva.
    () => createOptimizer('eva', model, { learningRate: 0.1, dampng: 0.01 }),
    /unknown option 'dampng'/,
  );
  assert.throws(
    // @ts-expect-error: adam has no momentum.
    () => createOptimizer('adam', model, { learningRate: 0.1, momentum: 0.9 }),
    /unknown option 'momentum'/,
  );
  assert.throws(
    () =>
      createOptimizer('kfac', model, {
        learningRate: 0.1,
        skipLayers: ['dense_nope', model.layers[0]!.name],
      }),
    /skipLayers: 'dense_nope' is not the name of a Dense or Conv2D layer of this model; its Dense\/Conv2D layers are/,
  );
  model.dispose();
});
