/**
 * The first-order optimizers keep each variable's slots with that variable when the set of
 * variables changes between steps (gradual unfreezing, `minimize` with a `varList`), where tfjs's
 * optimizers key them by position; and a saved state resumes exactly when the run continues with
 * the variables of the step before the save.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Adagrad,
  Adam,
  AdamW,
  disposeIterationCounters,
  SGD,
  type NamedTensor,
} from '../../../src/index.js';
import { randomTensor, useCpu, stateCopy } from '../../helpers.js';

before(useCpu);

const FACTORIES: Record<string, () => tf.Optimizer> = {
  sgd: () => new SGD({ learningRate: 0.1, momentum: 0.9, weightDecay: 0.01 }),
  'sgd nesterov': () => new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true }),
  adagrad: () => new Adagrad({ learningRate: 0.1 }),
  adam: () => new Adam({ learningRate: 0.01 }),
  adamw: () => new AdamW({ learningRate: 0.01, weightDecay: 0.1 }),
};

/** The gradient of variable `v` (0 or 1) at step `t`: the same shape for both. */
const gradient = (v: number, t: number) => randomTensor([3, 2], 100 + 10 * v + t);

/**
 * Which variables step `t` updates: the second alone, then both (first one first), the first
 * alone at step 3, then both.
 */
const schedule = (t: number) => (t < 2 ? [1] : t === 3 ? [0] : [0, 1]);
const STEPS = [0, 1, 2, 3, 4, 5, 6];

function run(make: () => tf.Optimizer, steps: number[], variables: tf.Variable[]) {
  const optimizer = make();
  for (const t of steps) {
    const grads = schedule(t).map((v) => ({ name: variables[v]!.name, tensor: gradient(v, t) }));
    optimizer.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
  }
  return optimizer;
}

const start = () => [0, 1].map((v) => tf.variable(randomTensor([3, 2], 90 + v)));
const read = (variables: tf.Variable[]) => variables.map((v) => Array.from(v.dataSync()));

for (const [name, make] of Object.entries(FACTORIES)) {
  test(`${name}: a variable joining later gets its own slots, not another's`, () => {
    // The first variable joins at step 2 with fresh slots; each counts its own updates (Adam's
    // bias correction, as PyTorch's per-parameter step), also across the second's missed step 3.
    // Stepping them with separate optimizers gives the same.
    const together = start();
    run(make, STEPS, together).dispose();
    const separate = start();
    const second = make();
    const first = make();
    for (const t of STEPS) {
      for (const v of schedule(t)) {
        const grads = [{ name: separate[v]!.name, tensor: gradient(v, t) }];
        (v === 0 ? first : second).applyGradients(grads);
        tf.dispose(grads.map((g) => g.tensor));
      }
    }
    assert.deepEqual(read(together), read(separate));
    for (const o of [first, second]) o.dispose();
    tf.dispose([...together, ...separate]);
  });

  test(`${name}: resumes exactly from a state saved after the variables changed`, async () => {
    // Saved after step 4 (both variables), resumed with both: without a model the state is
    // bound to the next step's variables in the order of the last step before the save.
    const reference = start();
    run(make, STEPS, reference).dispose();
    const resumed = start();
    const before = run(make, [0, 1, 2, 3, 4], resumed);
    const state = await stateCopy(before);
    // Both missed steps (5 so far): the first was updated 3 times, the second 4.
    assert.deepEqual(
      state.filter((w) => w.name.startsWith('step/')).map((w) => [w.name, w.tensor.arraySync()]),
      [
        ['step/0', 3],
        ['step/1', 4],
      ],
    );
    before.dispose();
    const after = make();
    await after.setWeights(state);
    tf.dispose(state.map((w) => w.tensor));
    for (const t of [5, 6]) {
      const grads = schedule(t).map((v) => ({ name: resumed[v]!.name, tensor: gradient(v, t) }));
      after.applyGradients(grads);
      tf.dispose(grads.map((g) => g.tensor));
    }
    assert.deepEqual(read(resumed), read(reference));
    after.dispose();
    tf.dispose([...reference, ...resumed]);
  });
}

test('a restored state bound to a step with other variables is refused by name', async () => {
  const variables = start();
  const optimizer = run(FACTORIES.adam!, [0, 1, 2], variables);
  const saved = await optimizer.getWeights();
  const fresh = FACTORIES.adam!();
  await fresh.setWeights(saved);
  disposeIterationCounters(saved);
  const grads = [{ name: variables[0]!.name, tensor: gradient(0, 3) }];
  const before = read(variables);
  assert.throws(
    () => fresh.applyGradients(grads),
    /Adam: the restored state has slots for 2 parameters, this step updates 1/,
  );
  assert.deepEqual(read(variables), before);
  tf.dispose(grads.map((g) => g.tensor));
  for (const o of [optimizer, fresh]) o.dispose();
  tf.dispose(variables);
});

test('a bad step count is refused by name and changes nothing', async () => {
  const variables = start();
  const optimizer = run(FACTORIES.adam!, [0, 1, 2], variables);
  const saved = await optimizer.getWeights();
  const replaced = (name: string, tensor: tf.Tensor) =>
    saved.map((w) => (w.name === 'step/0' ? { name, tensor } : w));
  const cases: Array<[NamedTensor[], RegExp]> = [
    [replaced('step/0', tf.scalar(7, 'int32')), /'step\/0' must be an integer scalar in \[1, 3\]/],
    [replaced('step/0', tf.scalar(1.5)), /must be an integer scalar/],
    [replaced('step/5', tf.scalar(1, 'int32')), /unexpected entry 'step\/5'/],
    [[...saved, { name: 'm/9', tensor: tf.zeros([3, 2]) }], /unexpected entry 'm\/9'/],
  ];
  const before = (await optimizer.getWeights()).map((w) => [w.name, w.tensor.arraySync()]);
  for (const [state, message] of cases) {
    await assert.rejects(optimizer.setWeights(state), message);
  }
  const after = (await optimizer.getWeights()).map((w) => [w.name, w.tensor.arraySync()]);
  assert.deepEqual(after, before);
  optimizer.dispose();
  tf.dispose(variables);
});

test('step counts in getWeights are fresh tensors that disposeIterationCounters releases', async () => {
  const variables = start();
  const optimizer = run(FACTORIES.adam!, [0, 1, 2, 3], variables);
  const first = await optimizer.getWeights();
  assert.ok(first.some((w) => w.name.startsWith('step/')));
  disposeIterationCounters(first);
  const tensors = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) disposeIterationCounters(await optimizer.getWeights());
  assert.equal(tf.memory().numTensors, tensors);
  optimizer.dispose();
  tf.dispose(variables);
});

test('a schedule may set the learning rate to 0: the weights stay', () => {
  const variables = start();
  const optimizer = run(FACTORIES.sgd!, [0], variables) as SGD;
  optimizer.setLearningRate(0);
  const before = read(variables);
  const grads = [{ name: variables[1]!.name, tensor: gradient(1, 1) }];
  optimizer.applyGradients(grads);
  assert.deepEqual(read(variables), before);
  assert.throws(() => optimizer.setLearningRate(-1), /learningRate.*>= 0/);
  tf.dispose([...variables, ...grads.map((g) => g.tensor)]);
  optimizer.dispose();
});
