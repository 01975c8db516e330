/**
 * The second-order optimizers built by name run on the library's SGD: the same steps as on
 * tf.train.momentum (bit for bit), states saved on tf.train.momentum restore into them, and the
 * slots follow the model's variables (a variable outside the model is refused by name).
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createOptimizerByName,
  disposeIterationCounters,
  Eva,
  SGD,
  Shampoo,
  type NamedTensor,
} from '../../src/index.js';
import { mseStep, optimizerSnapshot, randomTensor, twoLayerModel, useCpu } from '../helpers.js';

before(useCpu);

const read = (model: tf.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));

const CASES = [
  {
    name: 'eva',
    onTfjs: (model: tf.LayersModel) => new Eva(model, tf.train.momentum(0.05, 0.9), {}),
  },
  {
    // Nesterov by default, as its reference.
    name: 'shampoo',
    onTfjs: (model: tf.LayersModel) =>
      new Shampoo(model, tf.train.momentum(0.05, 0.9, true), { blockSize: 8 }),
  },
];

for (const { name, onTfjs } of CASES) {
  test(`${name} by name takes the steps and the saved state of ${name} on tf.train.momentum`, async () => {
    const options = name === 'shampoo' ? { blockSize: 8 } : {};
    const x = randomTensor([16, 12], 110);
    const y = randomTensor([16, 4], 111);
    const reference = { model: twoLayerModel(120), optimizer: null as unknown as tf.Optimizer };
    reference.optimizer = onTfjs(reference.model);
    const ours = twoLayerModel(120);
    const byName = createOptimizerByName(name, ours, { learningRate: 0.05, ...options });
    assert.ok(byName instanceof Eva || byName instanceof Shampoo);
    assert.equal((byName as Eva).base.getClassName(), SGD.className);
    for (let i = 0; i < 4; i++) {
      mseStep(reference.model, reference.optimizer, x, y);
      mseStep(ours, byName, x, y);
    }
    assert.deepEqual(read(ours), read(reference.model), 'the same steps');

    // A state saved on tf.train.momentum (`base/<variable>/momentum`) resumes on the library's.
    const saved = await reference.optimizer.getWeights();
    assert.ok(saved.some((w) => /^base\/.+\/momentum$/.test(w.name)));
    const state: NamedTensor[] = saved.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    disposeIterationCounters(saved);
    const resumedModel = twoLayerModel(130);
    resumedModel.setWeights(reference.model.getWeights());
    const resumed = createOptimizerByName(name, resumedModel, { learningRate: 0.05, ...options });
    await resumed.setWeights(state);
    tf.dispose(state.map((w) => w.tensor));
    for (let i = 0; i < 3; i++) {
      mseStep(reference.model, reference.optimizer, x, y);
      mseStep(resumedModel, resumed, x, y);
    }
    assert.deepEqual(read(resumedModel), read(reference.model), 'the resumed steps');
    for (const o of [reference.optimizer, byName, resumed]) o.dispose();
    for (const m of [reference.model, ours, resumedModel]) m.dispose();
    tf.dispose([x, y]);
  });
}

test('a variable outside the model is refused by name before anything changes', async () => {
  const model = twoLayerModel(140);
  const x = randomTensor([16, 12], 141);
  const y = randomTensor([16, 4], 142);
  for (const name of ['eva', 'adam']) {
    const optimizer = createOptimizerByName(name, model, { learningRate: 0.05 });
    mseStep(model, optimizer, x, y);
    const snapshot = await optimizerSnapshot(optimizer);
    const weights = read(model);
    const extra = tf.variable(tf.zeros([3]));
    const grads = [
      ...model.trainableWeights.map((w) => ({
        name: (w.read() as tf.Variable).name,
        tensor: tf.onesLike(w.read()),
      })),
      { name: extra.name, tensor: tf.ones([3]) },
    ];
    assert.throws(
      () => optimizer.applyGradients(grads),
      new RegExp(`'${extra.name}' is not a variable of the model this optimizer was built for`),
    );
    assert.deepEqual(await optimizerSnapshot(optimizer), snapshot);
    assert.deepEqual(read(model), weights);
    tf.dispose([extra, ...grads.map((g) => g.tensor)]);
    optimizer.dispose();
  }
  tf.dispose([x, y]);
  model.dispose();
});

test("on a base of tfjs's (slots by position) a changed set of variables is refused, saying why", async () => {
  const x = randomTensor([16, 12], 150);
  const y = randomTensor([16, 4], 151);
  for (const base of [tf.train.momentum(0.05, 0.9), tf.train.sgd(0.05)]) {
    const model = twoLayerModel(152);
    const optimizer = new Eva(model, base, {});
    mseStep(model, optimizer, x, y, true);
    const snapshot = await optimizerSnapshot(optimizer);
    const weights = read(model);
    if (base.getClassName() === 'SGD') {
      mseStep(model, optimizer, x, y); // no slots: any variables
    } else {
      assert.throws(
        () => mseStep(model, optimizer, x, y),
        /Eva: this step updates 4 variables, the base optimizer Momentum was first given 2 \(a different set\); .* Pass eva-tfjs's SGD/,
      );
      assert.deepEqual(await optimizerSnapshot(optimizer), snapshot);
      assert.deepEqual(read(model), weights);
      mseStep(model, optimizer, x, y, true); // the first set still works
    }
    optimizer.dispose();
    model.dispose();
  }
  tf.dispose([x, y]);
});
