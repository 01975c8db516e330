/**
 * Damped SPD inverses and inverse p-th roots (both routes) against float64 ml-matrix on random
 * SPD, near-singular (rank-deficient, like factors of few samples or dead ReLUs) and all-zero
 * matrices: correct where well-posed, finite everywhere.
 */
import * as tf from '@tensorflow/tfjs';
import { EigenvalueDecomposition, inverse, Matrix } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dampedInverseHost,
  dampedInverseNewton,
  inverseRootHost,
  inverseRootNewton,
} from '../src/index.js';
import { choleskyLower, lowerTriangularInverse } from '../src/linalg/cholesky.js';
import {
  addIdentity,
  assertClose,
  randomValues,
  symmetricPower,
  useCpu,
  values,
} from './helpers.js';

before(useCpu);

/** `X^T X / rows` for a random `[rows, d]` X: rank min(rows, d). */
function spd(d: number, rows: number, seed: number): number[][] {
  const x = new Matrix(
    Array.from({ length: rows }, (_, r) => Array.from(randomValues(d, seed * 1000 + r))),
  );
  // Rounded to float32, the precision of the tensors under test.
  return x
    .transpose()
    .mmul(x)
    .div(rows)
    .to2DArray()
    .map((row) => Array.from(Float32Array.from(row)));
}

const cases: Array<[string, number[][]]> = [
  ['full-rank SPD', spd(12, 40, 1)],
  ['rank-3 (near-singular)', spd(12, 3, 2)],
  [
    'dead unit (zero row and column)',
    spd(12, 40, 3).map((row, i) => row.map((v, j) => (i === 4 || j === 4 ? 0 : v))),
  ],
  ['all zero', Array.from({ length: 6 }, () => new Array<number>(6).fill(0))],
];

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
    tf.dispose([t, host, newton]);
  });

  for (const p of [2, 4, 8]) {
    test(`inverse ${p}-th root equals float64 eigendecomposition: ${label}`, () => {
      const ridgeEpsilon = 1e-4;
      const evd = new EigenvalueDecomposition(new Matrix(m), { assumeSymmetric: true });
      const lambdaMax = Math.max(0, ...evd.realEigenvalues);
      const ridge = Math.max(ridgeEpsilon * lambdaMax, 1e-16);
      const expected = symmetricPower(m, -1 / p, ridge).flat();
      const t = tf.tensor2d(m);
      const host = inverseRootHost(t, p, ridgeEpsilon);
      assert.ok(values(host).every(Number.isFinite));
      assertClose(values(host), expected, 1e-5, 'host');
      if (lambdaMax > 0) {
        const newton = inverseRootNewton(t, p, ridgeEpsilon);
        assert.ok(values(newton).every(Number.isFinite));
        assertClose(values(newton), expected, 2e-2, 'newton');
        newton.dispose();
      }
      tf.dispose([t, host]);
    });
  }
}

test('Cholesky and triangular inverse reproduce A^-1; non-PD input is reported, not NaN', () => {
  const n = 9;
  const a = addIdentity(spd(n, 30, 7), 0.1);
  const l = choleskyLower(Float64Array.from(a.flat()), n)!;
  assert.ok(l);
  const li = lowerTriangularInverse(l, n);
  const liM = new Matrix(
    Array.from({ length: n }, (_, r) => Array.from(li.subarray(r * n, (r + 1) * n))),
  );
  const inv = liM.transpose().mmul(liM).to2DArray().flat();
  assertClose(inv, inverse(new Matrix(a)).to2DArray().flat(), 1e-10, 'A^-1');
  const indefinite = a.map((row, i) => row.map((v, j) => (i === j && i === 3 ? -1 : v)));
  assert.equal(choleskyLower(Float64Array.from(indefinite.flat()), n), null);
});

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
    inverseRootHost(t, 2, 0),
  ];
  assert.equal(tf.memory().numTensors, before + results.length, 'only the results remain');
  tf.dispose([t, rectangular, ...results]);
});
