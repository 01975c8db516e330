/**
 * The factor-inverse routes of K-FAC and FOOF (`FACTOR_INVERSE_OPTIONS.linalg`): the default
 * `'blocked'` route gives the same preconditioned directions as the float64 `'host'` route
 * (checked against dense float64 solves in kfac.test.ts and foof.test.ts) on layers whose
 * factors are wider than one host-factored block, so the recursion on the backend runs; Shampoo
 * keeps its own routes.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FACTOR_INVERSE_OPTIONS,
  FOOF,
  INVERSE_OPTIONS,
  KFAC,
  type InverseMethod,
} from '../../src/index.js';
import { DEFAULT_LEAF_SIZE } from '../../src/linalg/block-inverse.js';
import { assertClose, randomTensor, useCpu, values } from '../helpers.js';

before(useCpu);

const INPUTS = 100;
const UNITS = 70;

/** A Dense model whose factors (101 and 70 wide) exceed one leaf, with fixed weights. */
function wideModel(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [INPUTS], units: UNITS, activation: 'relu' }),
      tf.layers.dense({ units: 3 }),
    ],
  });
  const weights = model.getWeights().map((w, i) => randomTensor(w.shape, 50 + i, 0.1));
  model.setWeights(weights);
  tf.dispose(weights);
  return model;
}

/** Two steps' preconditioned gradients (inverses refreshed on both) of one route. */
function directions(
  make: (model: tf.LayersModel, linalg: InverseMethod) => KFAC | FOOF,
  linalg: InverseMethod,
): number[][] {
  const model = wideModel();
  const optimizer = make(model, linalg);
  let result: number[][] = [];
  for (let step = 0; step < 2; step++) {
    const x = randomTensor([90, INPUTS], 1 + step);
    const y = randomTensor([90, 3], 10 + step);
    const { value, grads } = tf.variableGrads(
      () =>
        tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    );
    const preconditioned = optimizer.precondition(grads)!;
    result = preconditioned.map((p) => values(p.tensor));
    tf.dispose([x, y, value, ...Object.values(grads), ...preconditioned.map((p) => p.tensor)]);
  }
  optimizer.dispose();
  model.dispose();
  return result;
}

const makers = {
  KFAC: (model: tf.LayersModel, linalg: InverseMethod) =>
    new KFAC(model, tf.train.sgd(0.1), { linalg, damping: 0.01, statsBatchSize: 90 }),
  FOOF: (model: tf.LayersModel, linalg: InverseMethod) =>
    new FOOF(model, tf.train.sgd(0.1), { linalg, damping: 0.01, statsBatchSize: 90 }),
};

test('the factor inverses default to the blocked route; Shampoo keeps host/newton', () => {
  assert.equal(FACTOR_INVERSE_OPTIONS.linalg.default, 'blocked');
  assert.deepEqual([...FACTOR_INVERSE_OPTIONS.linalg.choices].sort(), [
    'blocked',
    'host',
    'newton',
  ]);
  assert.deepEqual([...INVERSE_OPTIONS.linalg.choices], ['host', 'newton']);
  assert.ok(INPUTS + 1 > DEFAULT_LEAF_SIZE && UNITS > DEFAULT_LEAF_SIZE, 'the factors recurse');
});

for (const [name, make] of Object.entries(makers)) {
  test(`${name}: the blocked route's directions equal the host route's (factors wider than a leaf)`, () => {
    const before = tf.memory().numTensors;
    const host = directions(make, 'host');
    const blocked = directions(make, 'blocked');
    host.forEach((expected, i) => assertClose(blocked[i]!, expected, 1e-5, `${name} tensor ${i}`));
    assert.equal(tf.memory().numTensors, before, 'nothing leaked');
  });
}
