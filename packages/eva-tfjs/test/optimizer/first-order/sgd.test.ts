/**
 * SGD against PyTorch's update rule (weight decay, momentum, Nesterov), the in-place Nesterov of
 * Google's Shampoo port, and its option checks.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SGD } from '../../../src/index.js';
import { assertClose, useCpu, values } from '../../helpers.js';

before(useCpu);

const CASES = [
  { nesterov: false },
  { nesterov: true },
  { nesterov: true, nesterovVariant: 'reference' },
] as const;

for (const nesterovOptions of CASES) {
  const label = JSON.stringify(nesterovOptions);
  test(`SGD follows its reference's rule with weight decay (${label})`, async () => {
    const w0 = [0.5, -1, 2];
    const grads = [
      [0.1, 0.2, -0.3],
      [-0.4, 0.05, 0.6],
      [0.3, -0.2, 0.1],
    ];
    const [lr, mu, wd] = [0.1, 0.9, 0.01];
    const options = { learningRate: lr, momentum: mu, weightDecay: wd, ...nesterovOptions };
    const w = tf.variable(tf.tensor1d(w0));
    const opt = new SGD(options);
    const expected = [...w0];
    const buf = [0, 0, 0];
    for (const g of grads) {
      opt.applyGradients([{ name: w.name, tensor: tf.tensor1d(g) }]);
      for (let i = 0; i < 3; i++) {
        const d = g[i]! + wd * expected[i]!;
        buf[i] = mu * buf[i]! + d;
        if (!nesterovOptions.nesterov) {
          expected[i]! -= lr * buf[i]!;
        } else if (!('nesterovVariant' in nesterovOptions)) {
          // PyTorch: step d + mu buf.
          expected[i]! -= lr * (d + mu * buf[i]!);
        } else {
          // Google's Shampoo port (and the Eva authors' copies): the buffer is updated in place
          // a second time and is the step, buf = mu^2 buf + (1 + mu) d.
          buf[i] = mu * buf[i]! + d;
          expected[i]! -= lr * buf[i]!;
        }
      }
    }
    assertClose(values(w), expected, 1e-6, 'w');
    // State round-trip: a fresh optimizer continues identically.
    const state = await opt.getWeights();
    const copy = new SGD(options);
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
    /SGD: Option 'nesterov' needs a momentum/,
  );
  assert.throws(
    () => new SGD({ learningRate: 0.1, momentum: 0.9, nesterovVariant: 'reference' }),
    /SGD: Option 'nesterovVariant' 'reference' needs Nesterov momentum/,
  );
  assert.throws(
    () =>
      new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true, nesterovVariant: 'x' as never }),
    /'nesterovVariant' must be 'standard' or 'reference'/,
  );
  assert.throws(() => new SGD({ learningRate: 0.1, weightDecay: -1 }), /'weightDecay'/);
  assert.throws(() => new SGD({ learningRate: 0.1, mom: 0.9 } as never), /unknown option 'mom'/);
});
