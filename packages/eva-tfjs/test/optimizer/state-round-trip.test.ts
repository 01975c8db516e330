/**
 * The state round-trip of every registry optimizer: `setWeights(getWeights())` on the same
 * instance changes nothing, and every corruption (step counter, names, a dropped or extra
 * entry, shapes, NaN, the base optimizer's slots) is rejected with an error naming it and the
 * state left exactly as it was. First-order optimizers skip non-finite steps like the others.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createOptimizerByName,
  disposeIterationCounters,
  optimizerEntry,
  optimizerNames,
  type NamedTensor,
} from '../../src/index.js';
import { createAutoencoder, initializeLikePyTorch } from '@eva-tfjs/experiments';
import { randomTensor, useCpu } from '../helpers.js';

before(useCpu);

function setup(name: string) {
  const model = createAutoencoder(12, [8, 3, 8]);
  initializeLikePyTorch(model, 2);
  const { learningRate, options } = optimizerEntry(name).testing;
  const optimizer = createOptimizerByName(name, model, { learningRate, ...options });
  model.compile({ optimizer, loss: 'meanSquaredError' });
  return { model, optimizer };
}

/** A snapshot of the optimizer's state as plain arrays (names, shapes, values). */
async function snapshot(optimizer: tf.Optimizer) {
  const weights = await optimizer.getWeights();
  const copy = weights.map((w) => ({
    name: w.name,
    shape: w.tensor.shape,
    values: w.tensor.arraySync(),
  }));
  disposeIterationCounters(weights);
  return copy;
}

/** Copies of the state with `change` applied to the copies. */
async function corrupted(
  optimizer: tf.Optimizer,
  change: (state: NamedTensor[]) => NamedTensor[],
): Promise<NamedTensor[]> {
  const weights = await optimizer.getWeights();
  const copies = weights.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
  disposeIterationCounters(weights);
  return change(copies);
}

const x = () => randomTensor([16, 12], 9);

for (const name of optimizerNames()) {
  test(`${name}: setWeights(getWeights()) on the same instance changes nothing`, async () => {
    const data = x();
    const a = setup(name);
    const b = setup(name);
    for (const { model } of [a, b]) await model.trainOnBatch(data, data);
    const state = await a.optimizer.getWeights();
    const tensors = tf.memory().numTensors;
    await a.optimizer.setWeights(state);
    assert.equal(tf.memory().numTensors, tensors, 'setWeights leaves nothing behind');
    disposeIterationCounters(state);
    for (const { model } of [a, b]) await model.trainOnBatch(data, data);
    assert.deepEqual(
      a.model.getWeights().map((w) => w.arraySync()),
      b.model.getWeights().map((w) => w.arraySync()),
    );
    for (const { model, optimizer } of [a, b]) {
      optimizer.dispose();
      model.dispose();
    }
    data.dispose();
  });

  test(`${name}: a corrupted state is rejected by name and changes nothing`, async () => {
    const data = x();
    const { model, optimizer } = setup(name);
    await model.trainOnBatch(data, data);
    const before = await snapshot(optimizer);
    const own = (s: NamedTensor[]) => s.findIndex((w, i) => i > 0 && !w.name.startsWith('base/'));
    const cases: Array<[string, (s: NamedTensor[]) => NamedTensor[], RegExp]> = [
      [
        'iter NaN',
        (s) => [{ name: 'iter', tensor: tf.scalar(NaN) }, ...s.slice(1)],
        /'iter' must be an integer >= 0/,
      ],
      ['iter missing', (s) => s.slice(1), /expected the step counter 'iter' first/],
      [
        'a value NaN',
        (s) =>
          s.map((w, i) =>
            i === s.length - 1 ? { name: w.name, tensor: tf.fill(w.tensor.shape, NaN) } : w,
          ),
        /non-finite value|must be an integer/,
      ],
      [
        'a wrong shape',
        (s) =>
          s.map((w, i) =>
            i === s.length - 1 ? { name: w.name, tensor: tf.zeros([w.tensor.size + 1]) } : w,
          ),
        /must have (the )?shape|shape \[|expected a scalar/,
      ],
      [
        'an unknown entry',
        (s) => [...s, { name: 'nonsense/0/x', tensor: tf.zeros([1]) }],
        /unexpected state entry|must be|expected \d+|slot/,
      ],
    ];
    if (own(await corrupted(optimizer, (s) => s)) > 0) {
      cases.push([
        'a dropped entry',
        (s) => s.filter((_, i) => i !== own(s)),
        /lacks|expected|must have|must be/,
      ]);
    }
    const baseSlot = (s: NamedTensor[]) =>
      s.findIndex((w) => w.name.startsWith('base/') && !w.name.endsWith('iter'));
    if (baseSlot(await corrupted(optimizer, (s) => s)) > 0) {
      cases.push([
        'a base slot of the wrong shape',
        (s) =>
          s.map((w, i) => (i === baseSlot(s) ? { name: w.name, tensor: tf.zeros([2, 2, 2]) } : w)),
        /base|shape/,
      ]);
    }
    for (const [what, change, message] of cases) {
      const state = await corrupted(optimizer, change);
      await assert.rejects(optimizer.setWeights(state), message, `${name}: ${what}`);
      tf.dispose(state.map((w) => w.tensor));
      assert.deepEqual(await snapshot(optimizer), before, `${name}: ${what} changed the state`);
    }
    await model.trainOnBatch(data, data);
    optimizer.dispose();
    model.dispose();
    data.dispose();
  });
}

test('first-order optimizers skip non-finite steps (or throw), counted, weights unchanged', async () => {
  for (const name of optimizerNames().filter((n) => !optimizerEntry(n).secondOrder)) {
    const model = createAutoencoder(12, [8, 3, 8]);
    initializeLikePyTorch(model, 2);
    const { learningRate } = optimizerEntry(name).testing;
    const optimizer = createOptimizerByName(name, model, { learningRate }) as tf.Optimizer & {
      skippedSteps: number;
    };
    const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const before = weights.map((w) => w.arraySync());
    const grads = weights.map((w) => ({ name: w.name, tensor: tf.fill(w.shape, NaN) }));
    const warn = console.warn;
    console.warn = () => {};
    try {
      optimizer.applyGradients(grads);
    } finally {
      console.warn = warn;
    }
    assert.equal(optimizer.skippedSteps, 1, name);
    assert.equal(optimizer.iterations, 0, name);
    assert.deepEqual(
      weights.map((w) => w.arraySync()),
      before,
      `${name}: weights changed`,
    );
    const strict = createOptimizerByName(name, model, { learningRate, onNonFinite: 'throw' });
    assert.throws(
      () => strict.applyGradients(grads),
      /non-finite gradients or statistics at step 0/,
    );
    tf.dispose(grads.map((g) => g.tensor));
    for (const o of [optimizer, strict]) o.dispose();
    model.dispose();
  }
});

test('dispose() releases everything an optimizer created (every registry optimizer)', async () => {
  const data = x();
  for (const name of optimizerNames()) {
    const model = createAutoencoder(12, [8, 3, 8]);
    initializeLikePyTorch(model, 2);
    const before = tf.memory().numTensors;
    const { learningRate, options } = optimizerEntry(name).testing;
    const optimizer = createOptimizerByName(name, model, { learningRate, ...options });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    for (let i = 0; i < 3; i++) await model.trainOnBatch(data, data);
    const state = await optimizer.getWeights();
    await optimizer.setWeights(state);
    disposeIterationCounters(state);
    optimizer.dispose();
    assert.equal(tf.memory().numTensors, before, `${name} leaves tensors behind after dispose`);
    model.dispose();
  }
  data.dispose();
});
