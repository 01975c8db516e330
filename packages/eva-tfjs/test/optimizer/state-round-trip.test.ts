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
import { optimizerSnapshot, randomTensor, useCpu } from '../helpers.js';

before(useCpu);

function setup(name: string) {
  const model = createAutoencoder(12, [8, 3, 8]);
  initializeLikePyTorch(model, 2);
  const { learningRate, options } = optimizerEntry(name).testing;
  const optimizer = createOptimizerByName(name, model, { learningRate, ...options });
  model.compile({ optimizer, loss: 'meanSquaredError' });
  return { model, optimizer };
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
    // setWeights releases the last step's KL factor (lastScale), where there is one.
    const lastScale = (a.optimizer as { lastScale?: tf.Scalar | null }).lastScale;
    const tensors = tf.memory().numTensors - (lastScale != null ? 1 : 0);
    await a.optimizer.setWeights(state);
    assert.equal(tf.memory().numTensors, tensors, 'setWeights leaves nothing behind');
    assert.ok(lastScale == null || lastScale.isDisposed, 'a restored state has no last step');
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
    const before = await optimizerSnapshot(optimizer);
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
    // An entry beside others of its owner (`prefix/index/` of a second-order state, the key of
    // `slot/key` of a first-order one, else the first part of the name): dropping an owner's only entry gives a valid state (that
    // layer or parameter before its first update).
    const ownerOf = (name: string) =>
      /^(\w+\/\d+)\/\w+$/.exec(name)?.[1] ?? /^\w+\/(\d+)$/.exec(name)?.[1] ?? name.split('/')[0];
    const droppable = (s: NamedTensor[]) =>
      s.findIndex(
        (w, i) =>
          i > 0 &&
          !w.name.startsWith('base/') &&
          s.some((o) => o !== w && ownerOf(o.name) === ownerOf(w.name)),
      );
    if (droppable(await corrupted(optimizer, (s) => s)) > 0) {
      cases.push([
        'a dropped entry',
        (s) => s.filter((_, i) => i !== droppable(s)),
        /lacks|expected|must have|must be/,
      ]);
    } else {
      // One entry per owner: Eva-f's vector per layer, SGD's and Adagrad's slot per parameter;
      // Shampoo: this model's kernels merge to rank 1, left to grafting (no state of its own).
      assert.ok(
        ['evaf', 'shampoo', 'sgd', 'adagrad'].includes(name),
        `${name}: no droppable entry`,
      );
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
      assert.deepEqual(
        await optimizerSnapshot(optimizer),
        before,
        `${name}: ${what} changed the state`,
      );
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
