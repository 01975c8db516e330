/**
 * Inverse p-th roots (both routes) against a float64 ml-matrix eigendecomposition on random SPD,
 * near-singular (rank-deficient, like factors of few samples or dead ReLUs) and all-zero
 * matrices: correct where well-posed, finite everywhere.
 */
import * as tf from '@tensorflow/tfjs';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { inverseRootHost, inverseRootNewton } from '../../src/index.js';
import { assertClose, spdCases, symmetricPower, useCpu, values } from '../helpers.js';

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
