/**
 * The second-order optimizers built by name run on the library's SGD: the same steps as on
 * tf.train.momentum (bit for bit), states saved on tf.train.momentum restore into them, and the
 * slots follow the model's variables (a variable outside the model comes after them).
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createOptimizerByName, Eva, SGD, Shampoo } from '../../src/index.js';
import {
  mseStep,
  optimizerSnapshot,
  randomTensor,
  twoLayerModel,
  useCpu,
  stateCopy,
} from '../helpers.js';

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
    const state = await stateCopy(reference.optimizer);
    assert.ok(state.some((w) => /^base\/.+\/momentum$/.test(w.name)));
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

test("a variable outside the model keeps its slots after the model's and resumes exactly", async () => {
  const x = randomTensor([16, 12], 141);
  const y = randomTensor([16, 4], 142);
  for (const name of ['eva', 'adam']) {
    // A custom loop with a learnable loss scale beside the model's variables.
    const setup = () => {
      const model = twoLayerModel(140);
      const scale = tf.variable(tf.scalar(0.5));
      const optimizer = createOptimizerByName(name, model, { learningRate: 0.05 });
      const step = () =>
        optimizer
          .minimize(
            () =>
              tf.mul(
                tf.exp(scale),
                tf.losses.meanSquaredError(y, model.predict(x) as tf.Tensor),
              ) as tf.Scalar,
            false,
            [...model.trainableWeights.map((w) => w.read() as tf.Variable), scale],
          )
          ?.dispose();
      return { model, scale, optimizer, step };
    };
    const reference = setup();
    for (let i = 0; i < 4; i++) reference.step();
    const first = setup();
    for (let i = 0; i < 2; i++) first.step();
    const state = await stateCopy(first.optimizer);
    const slot = name === 'adam' ? 'm' : 'base/momentum';
    assert.ok(
      state.some((w) => w.name === `${slot}/4` && w.tensor.rank === 0),
      `the scale's slots come after the model's 4 variables: ${state.map((w) => w.name)}`,
    );
    const resumed = setup();
    resumed.model.setWeights(first.model.getWeights());
    resumed.scale.assign(first.scale);
    await resumed.optimizer.setWeights(state);
    tf.dispose(state.map((w) => w.tensor));
    for (let i = 0; i < 2; i++) resumed.step();
    assert.deepEqual(read(resumed.model), read(reference.model), name);
    assert.deepEqual(resumed.scale.dataSync(), reference.scale.dataSync(), name);
    for (const r of [reference, first, resumed]) {
      r.optimizer.dispose();
      r.model.dispose();
      r.scale.dispose();
    }
  }
  tf.dispose([x, y]);
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
