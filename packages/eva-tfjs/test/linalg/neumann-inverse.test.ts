/**
 * The truncated Neumann series for damping-dominated inverses against float64 ml-matrix
 * inverses: the term count follows the error bound, the bound holds at the thresholds (PSD and
 * indefinite input), the blocked route takes the series only where it is exact to float32, and
 * nothing leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { inverse, Matrix } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NEUMANN_TOLERANCE,
  neumannErrorBound,
  neumannInverse,
  neumannTerms,
} from '../../src/linalg/neumann-inverse.js';
import { dampedInverseBlocked } from '../../src/index.js';
import { addIdentity, relativeError, spd, useCpu, values } from '../helpers.js';

before(useCpu);

function frobenius(m: number[][]): number {
  return Math.sqrt(m.flat().reduce((s, v) => s + v * v, 0));
}

/** `m` scaled to `|m|_F = target` (float32 entries). */
function withFrobenius(m: number[][], target: number): number[][] {
  const scale = target / frobenius(m);
  return m.map((row) => row.map((v) => Math.fround(v * scale)));
}

test('term counts follow the error bound: E up to rho ~3.2e-4, E^2 up to ~4.6e-3, then none', () => {
  assert.equal(neumannTerms(0), 1);
  assert.equal(neumannTerms(3.1e-4), 1);
  assert.equal(neumannTerms(3.3e-4), 2);
  assert.equal(neumannTerms(4.5e-3), 2);
  assert.equal(neumannTerms(4.7e-3), null);
  assert.equal(neumannTerms(2), null);
  assert.equal(neumannTerms(Number.NaN), null);
  assert.equal(neumannErrorBound(1.5, 1), Infinity);
  assert.ok(neumannErrorBound(3.1e-4, 1) <= NEUMANN_TOLERANCE);
  assert.ok(neumannErrorBound(4.5e-3, 2) <= NEUMANN_TOLERANCE);
});

for (const [rho, terms] of [
  [3.1e-4, 1],
  [1e-5, 1],
  [4.5e-3, 2],
  [1e-3, 2],
] as const) {
  test(`the series equals the float64 inverse within its bound: rho ${rho}, up to E^${terms}`, () => {
    const n = 40;
    const damping = 0.7;
    const m = withFrobenius(spd(n, 60, 3), rho * damping);
    const expected = inverse(new Matrix(addIdentity(m, damping)))
      .to2DArray()
      .flat();
    const t = tf.tensor2d(m);
    const before = tf.memory().numTensors;
    const x = neumannInverse(t, damping, terms);
    assert.equal(tf.memory().numTensors, before + 1, 'only the result remains');
    const v = values(x);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++)
        assert.equal(v[i * n + j], v[j * n + i], `symmetric (${i}, ${j})`);
    }
    // The truncation bound plus float32 round-off of the entries.
    const error = relativeError(v, expected);
    assert.ok(error < neumannErrorBound(rho, terms) + 1e-7, `relative error ${error}`);
    tf.dispose([t, x]);
  });
}

test('an indefinite symmetric M within the bound is still inverted to float32 precision', () => {
  const n = 30;
  const damping = 2;
  const m = withFrobenius(
    spd(n, 50, 8).map((row, i) => row.map((v, j) => v - (i === j ? 0.8 : 0))),
    4e-3 * damping,
  );
  const expected = inverse(new Matrix(addIdentity(m, damping)))
    .to2DArray()
    .flat();
  const x = dampedInverseBlocked(tf.tensor2d(m), damping);
  assert.ok(relativeError(values(x), expected) < 2e-7);
  x.dispose();
});

test('the blocked route takes the series only for damping-dominated matrices', () => {
  const n = 70;
  const m = spd(n, 90, 6);
  const t = tf.tensor2d(m);
  for (const [damping, dominated] of [
    [1e4 * frobenius(m), true],
    [1000 * frobenius(m), true],
    [100 * frobenius(m), false],
    [1e-2, false],
  ] as const) {
    const expected = inverse(new Matrix(addIdentity(m, damping)))
      .to2DArray()
      .flat();
    const before = tf.memory().numTensors;
    const auto = dampedInverseBlocked(t, damping, { leafSize: 16 });
    const factored = dampedInverseBlocked(t, damping, { leafSize: 16, neumann: false });
    assert.equal(tf.memory().numTensors, before + 2, 'only the results remain');
    if (dominated) {
      assert.ok(relativeError(values(auto), expected) < 3e-7, `series, damping ${damping}`);
      assert.ok(relativeError(values(factored), expected) < 3e-7, `blocks, damping ${damping}`);
    } else {
      assert.deepEqual(values(auto), values(factored), 'not dominated: the block factorisation');
      assert.ok(relativeError(values(auto), expected) < 1e-4, `blocks, damping ${damping}`);
    }
    tf.dispose([auto, factored]);
  }
  t.dispose();
});
