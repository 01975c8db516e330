/**
 * The recursive block Cholesky inverse (float32 products on the backend, float64 leaves) and
 * the `'blocked'` damped-inverse route against float64 ml-matrix inverses: random SPD matrices
 * at odd sizes and sizes around the leaf size, badly conditioned ones (error bounded relative to
 * the condition number), indefinite input (null, and the route's fallback to the host),
 * symmetric output, bad arguments and leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { EigenvalueDecomposition, inverse, Matrix } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LEAF_SIZE, spdBlockInverse } from '../../src/linalg/block-inverse.js';
import { dampedInverse, dampedInverseBlocked, dampedInverseHost } from '../../src/index.js';
import {
  addIdentity,
  assertClose,
  randomValues,
  relativeError,
  spd,
  useCpu,
  values,
} from '../helpers.js';

before(useCpu);

/** The float64 inverse of `m + damping I`, flattened. */
function float64Inverse(m: number[][], damping = 0): number[] {
  return inverse(new Matrix(addIdentity(m, damping)))
    .to2DArray()
    .flat();
}

/** The 2-norm condition number of a symmetric positive definite matrix (float64). */
function conditionNumber(m: number[][]): number {
  const eigenvalues = new EigenvalueDecomposition(new Matrix(m), { assumeSymmetric: true })
    .realEigenvalues;
  return Math.max(...eigenvalues) / Math.min(...eigenvalues);
}

/**
 * An activation-factor-like SPD matrix `X^T X / rows + ridge I` in float32, where the rows of X
 * share a large common mean `offset` (like the non-centred inputs of K-FAC's and FOOF's `A`):
 * one large eigenvalue, the others small or (rows < d) zero, so the ridge sets the conditioning.
 */
function activationLike(d: number, rows: number, offset: number, ridge: number, seed: number) {
  const x = randomValues(rows * d, seed).map((v) => v + offset);
  const m: number[][] = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) m[i]![j]! += (x[r * d + i]! * x[r * d + j]!) / rows;
    }
  }
  return m.map((row, i) =>
    row.map((_, j) => Math.fround((i >= j ? m[i]![j]! : m[j]![i]!) + (i === j ? ridge : 0))),
  );
}

const sizesAndLeaves: Array<[number, number]> = [
  [1, 1],
  [2, 1],
  [3, 1],
  [7, 2],
  [8, 2],
  [9, 2],
  [33, 4],
  [63, DEFAULT_LEAF_SIZE],
  [64, DEFAULT_LEAF_SIZE],
  [65, DEFAULT_LEAF_SIZE],
  [127, DEFAULT_LEAF_SIZE],
  [128, DEFAULT_LEAF_SIZE],
  [129, DEFAULT_LEAF_SIZE],
  [150, 16],
];

for (const [n, leafSize] of sizesAndLeaves) {
  test(`block inverse of a random SPD matrix equals the float64 inverse: n ${n}, leaf ${leafSize}`, () => {
    const m = addIdentity(spd(n, 2 * n + 3, n), 0.05);
    const s = tf.tensor2d(m);
    const before = tf.memory().numTensors;
    const x = spdBlockInverse(s, leafSize)!;
    assert.equal(tf.memory().numTensors, before + 1, 'only the result remains');
    const error = relativeError(values(x), float64Inverse(m));
    assert.ok(error < 2e-6, `relative error ${error} (cond ${conditionNumber(m).toFixed(0)})`);
    tf.dispose([s, x]);
  });
}

for (const [label, rows, ridge] of [
  ['cond ~1e4', 192, 1e-2],
  ['cond ~1e6', 48, 1e-3],
  ['cond ~1e7', 48, 1e-4],
] as const) {
  test(`badly conditioned (${label}): the error stays within cond x 1e-8 of float64`, () => {
    const n = 96;
    const m = activationLike(n, rows, 3, ridge, 11);
    const cond = conditionNumber(m);
    const s = tf.tensor2d(m);
    const x = spdBlockInverse(s, 16)!;
    assert.ok(x != null, `cond ${cond.toExponential(1)}: a block was reported indefinite`);
    // Measured: about cond x 2e-9 (a float32 Cholesky inverse has the same order).
    const error = relativeError(values(x), float64Inverse(m));
    assert.ok(
      error < Math.max(1e-6, cond * 1e-8),
      `relative error ${error.toExponential(2)} at cond ${cond.toExponential(1)}`,
    );
    tf.dispose([s, x]);
  });
}

test('dampedInverseBlocked: exactly symmetric, equals float64 (M + damping I)^-1, the default route', () => {
  const n = 70;
  const m = spd(n, 20, 5); // rank 20: the damping carries the rest of the spectrum
  const t = tf.tensor2d(m);
  const blocked = dampedInverseBlocked(t, 1e-2, { leafSize: 8 });
  const viaDefault = dampedInverse(t, 1e-2);
  const v = values(blocked);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) assert.equal(v[i * n + j], v[j * n + i], `(${i}, ${j})`);
  }
  assertClose(v, float64Inverse(m, 1e-2), 1e-5, 'blocked');
  assertClose(values(viaDefault), float64Inverse(m, 1e-2), 1e-5, 'default route');
  tf.dispose([t, blocked, viaDefault]);
});

test('an indefinite matrix gives null (nothing leaked); the route falls back to the host', () => {
  const n = 40;
  // Eigenvalues of M down to -0.5: M + 0.1 I is indefinite, so a Schur complement or a leaf fails.
  const m = spd(n, 60, 9).map((row, i) => row.map((v, j) => v - (i === j ? 0.5 : 0)));
  const t = tf.tensor2d(m);
  const before = tf.memory().numTensors;
  assert.equal(spdBlockInverse(t, 4), null);
  assert.equal(tf.memory().numTensors, before, 'nothing leaked');
  const blocked = dampedInverseBlocked(t, 0.1, { leafSize: 4 });
  const host = dampedInverseHost(t, 0.1);
  assert.equal(tf.memory().numTensors, before + 2, 'only the results remain');
  assertClose(values(blocked), values(host), 1e-6, 'fallback equals the host route');
  assert.ok(values(blocked).every(Number.isFinite));
  tf.dispose([t, blocked, host]);
});

test('round-off that makes a PSD factor slightly indefinite is absorbed by the damping', () => {
  const n = 50;
  // Rank 5 with its zero eigenvalues perturbed to about -1e-7 by float32 round-off.
  const m = spd(n, 5, 4).map((row, i) => row.map((v, j) => v - (i === j ? 1e-7 : 0)));
  const t = tf.tensor2d(m);
  const x = dampedInverseBlocked(t, 1e-3, { leafSize: 8 });
  const error = relativeError(values(x), float64Inverse(m, 1e-3));
  assert.ok(error < 1e-4, `relative error ${error}`);
  tf.dispose([t, x]);
});

test('block inverse rejects bad arguments clearly and leaks nothing', () => {
  const t = tf.tensor2d(addIdentity(spd(6, 12, 2), 0.1));
  const rectangular = tf.zeros([2, 3]) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  assert.throws(() => spdBlockInverse(t, 0), /leaf size .* positive integer, got 0/);
  assert.throws(() => spdBlockInverse(t, 2.5), /leaf size .* positive integer, got 2.5/);
  assert.throws(() => spdBlockInverse(rectangular), /square/);
  assert.throws(() => dampedInverseBlocked(rectangular, 1), /square/);
  assert.throws(() => dampedInverseBlocked(t, -1), /damping .* must be a finite number > 0/);
  assert.throws(() => dampedInverseBlocked(t, 1, { leafSize: 0 }), /leaf size/);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([t, rectangular]);
});
