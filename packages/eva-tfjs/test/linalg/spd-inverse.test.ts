/**
 * Damped SPD inverses (all three routes) against float64 ml-matrix on random SPD, near-singular
 * (rank-deficient, like factors of few samples or dead ReLUs) and all-zero matrices: correct
 * where well-posed, finite everywhere; bad arguments of the linear-algebra routines.
 */
import * as tf from '@tensorflow/tfjs';
import { inverse, Matrix } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dampedInverseBlocked,
  dampedInverseHost,
  dampedInverseNewton,
  inverseRootHost,
  inverseRootNewton,
} from '../../src/index.js';
import { addIdentity, assertClose, spd, spdCases, useCpu, values } from '../helpers.js';

before(useCpu);

const cases = spdCases();

for (const [label, m] of cases) {
  test(`damped inverse equals float64 inverse: ${label}`, () => {
    const damping = 1e-2;
    const expected = inverse(new Matrix(addIdentity(m, damping)))
      .to2DArray()
      .flat();
    const t = tf.tensor2d(m);
    const host = dampedInverseHost(t, damping);
    assertClose(values(host), expected, 1e-5, 'host');
    const newton = dampedInverseNewton(t, damping, { iterations: 40 });
    assertClose(values(newton), expected, 1e-3, 'newton');
    const blocked = dampedInverseBlocked(t, damping, { leafSize: 4 });
    assertClose(values(blocked), expected, 1e-5, 'blocked');
    tf.dispose([t, host, newton, blocked]);
  });
}

test('linear-algebra routines reject bad arguments clearly and leak nothing', () => {
  const t = tf.tensor2d(spd(4, 8, 4));
  const rectangular = tf.zeros([2, 3]) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  assert.throws(() => dampedInverseHost(t, 0), /damping .* must be a finite number > 0/);
  assert.throws(() => inverseRootHost(t, 0, 1e-6), /positive integer/);
  assert.throws(() => dampedInverseHost(rectangular, 1), /square/);
  const results = [
    dampedInverseNewton(t, 0.1),
    inverseRootNewton(t, 4, 1e-6),
    dampedInverseHost(t, 0.1),
    dampedInverseBlocked(t, 0.1, { leafSize: 2 }),
    inverseRootHost(t, 2, 0),
  ];
  assert.equal(tf.memory().numTensors, before + results.length, 'only the results remain');
  tf.dispose([t, rectangular, ...results]);
});
