/**
 * Inverse p-th roots (both routes) against a float64 ml-matrix eigendecomposition on random SPD,
 * near-singular (rank-deficient, like factors of few samples or dead ReLUs) and all-zero
 * matrices: correct where well-posed, finite everywhere. The float64 host root also against the
 * exact `Q diag((l + r)^(-1/p)) Q^T` of known spectra (sizes 1 to 129; repeated, zero and badly
 * conditioned eigenvalues), and the batched route against the single one.
 */
import * as tf from '@tensorflow/tfjs';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { inverseRootHost, inverseRootNewton } from '../../src/index.js';
import { inverseRootsHost } from '../../src/linalg/inverse-root.js';
import { inverseRootFloat64 } from '../../src/linalg/inverse-root-float64.js';
import { assertClose, spd, spdCases, symmetricPower, useCpu, values } from '../helpers.js';
import { spectralFunction, spectrumCases, type SpectrumCase } from './spectrum-cases.js';

before(useCpu);

const cases = spdCases();

for (const [label, m] of cases) {
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

const SIZES = [1, 2, 3, 17, 64, 128, 129];

/** The exact inverse root of a known spectrum: `Q diag((max(l, 0) + r)^(-1/p)) Q^T`. */
function exactInverseRoot(c: SpectrumCase, p: number, ridgeEpsilon: number): Float64Array {
  const lambdaMax = Math.max(0, ...c.eigenvalues);
  const ridge = Math.max(ridgeEpsilon * lambdaMax, 1e-16);
  return spectralFunction(c.q, c.eigenvalues, (l) => (Math.max(l, 0) + ridge) ** (-1 / p));
}

for (const n of SIZES) {
  // Indefinite spectra are not statistics; the PSD ones: spread, repeated, rank-deficient,
  // condition 1e14. With ridge 1e-6 lambda_max the root is well-conditioned in float64.
  const cases = spectrumCases(n, 100 + n).filter((c) => !c.label.includes('indefinite'));
  for (const p of [2, 4, 6]) {
    test(`float64 inverse ${p}-th root equals the exact Q diag Q^T: n=${n}`, () => {
      for (const c of cases) {
        const root = inverseRootFloat64(c.matrix, n, p, 1e-6);
        assertClose(root, exactInverseRoot(c, p, 1e-6), 1e-9, c.label);
      }
    });
  }
}

for (const n of SIZES) {
  test(`inverse 4-th and 6-th roots of float32 statistics equal ml-matrix's: n=${n}`, () => {
    const m = spd(n, Math.max(3, Math.ceil(n / 2)), n);
    const t = tf.tensor2d(m);
    for (const p of [4, 6]) {
      const evd = new EigenvalueDecomposition(new Matrix(m), { assumeSymmetric: true });
      const ridge = Math.max(1e-6 * Math.max(0, ...evd.realEigenvalues), 1e-16);
      const host = inverseRootHost(t, p, 1e-6);
      assertClose(values(host), symmetricPower(m, -1 / p, ridge).flat(), 1e-5, `p=${p}`);
      host.dispose();
    }
    t.dispose();
  });
}

test('inverseRootsHost: one read for many matrices, equal to one at a time, no leaks', () => {
  const matrices = [17, 1, 64, 17, 3].map((n, i) => tf.tensor2d(spd(n, 2 * n, 40 + i)));
  const exponents = [4, 2, 6, 4, 8];
  const before = tf.memory().numTensors;
  const roots = inverseRootsHost(matrices, exponents, 1e-6);
  assert.equal(tf.memory().numTensors, before + matrices.length);
  roots.forEach((root, i) => {
    const single = inverseRootHost(matrices[i]!, exponents[i]!, 1e-6);
    assert.deepEqual(root.shape, matrices[i]!.shape);
    assert.deepEqual(values(root), values(single));
    single.dispose();
  });
  const shared = inverseRootsHost(matrices.slice(0, 2), 4, 1e-6);
  const alone = inverseRootsHost([matrices[1]!], 4, 1e-6);
  assert.deepEqual(values(shared[1]!), values(alone[0]!));
  tf.dispose([...roots, ...shared, ...alone]);
  assert.deepEqual(inverseRootsHost([], 4, 1e-6), []);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose(matrices);
});

test('inverse roots: clear errors for bad input, no tensors left behind', () => {
  const square = tf.eye(3) as tf.Tensor2D;
  const wide = tf.zeros([2, 3]) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  assert.throws(() => inverseRootHost(wide, 4, 1e-6), /square matrix, got shape \[2,3\]/);
  assert.throws(() => inverseRootHost(square, 0, 1e-6), /positive integer, got 0/);
  assert.throws(() => inverseRootHost(square, 4, -1), /ridgeEpsilon must be/);
  assert.throws(() => inverseRootsHost([square, square], [4], 1e-6), /Expected 2 exponents/);
  assert.throws(() => inverseRootsHost([square, wide], 4, 1e-6), /square matrix/);
  assert.throws(() => inverseRootsHost([square], [2.5], 1e-6), /positive integer, got 2.5/);
  const infinite = tf.tensor2d([1, 0, 0, Infinity], [2, 2]);
  assert.throws(() => inverseRootsHost([square, infinite], 4, 1e-6), /entry \[1, 1\] is Infinity/);
  infinite.dispose();
  assert.throws(() => inverseRootFloat64(Float64Array.from([1, 0, 0, NaN]), 2, 4, 0), /NaN/);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([square, wide]);
});
