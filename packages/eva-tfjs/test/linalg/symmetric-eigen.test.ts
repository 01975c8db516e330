/**
 * The flat float64 symmetric eigensolver against matrices of known spectrum (`Q diag Q^T`) and
 * against ml-matrix's EigenvalueDecomposition, at sizes 1, 2, 3, 17, 64, 128, 129: eigenvalues,
 * reconstruction and orthogonality to float64 round-off, for spread, repeated, zero, badly
 * conditioned and indefinite spectra.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { symmetricEigen, symmetricFunction } from '../../src/linalg/symmetric-eigen.js';
import { spd } from '../helpers.js';
import { spectrumCases } from './spectrum-cases.js';

const SIZES = [1, 2, 3, 17, 64, 128, 129];

/** max |a - b| / max(max |b|, tiny). */
function relativeMaxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-300);
}

/** max |V V^T - I| for row eigenvectors V. */
function orthogonalityError(vectors: Float64Array, n: number): number {
  let error = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[i * n + k]! * vectors[j * n + k]!;
      error = Math.max(error, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  return error;
}

for (const n of SIZES) {
  for (const c of spectrumCases(n, n)) {
    test(`eigendecomposition of a known spectrum: ${c.label}`, () => {
      const eigen = symmetricEigen(c.matrix, n);
      const tolerance = 1e-13 * Math.max(8, n);
      const expected = [...c.eigenvalues].sort((a, b) => a - b);
      assert.ok(relativeMaxError(eigen.values, expected) <= tolerance, 'eigenvalues');
      for (let k = 1; k < n; k++) assert.ok(eigen.values[k - 1]! <= eigen.values[k]!, 'ascending');
      const reconstructed = symmetricFunction(eigen, (x) => x);
      assert.ok(relativeMaxError(reconstructed, c.matrix) <= tolerance, 'V diag V^T = A');
      assert.ok(orthogonalityError(eigen.vectors, n) <= tolerance, 'V V^T = I');
    });
  }
}

for (const n of SIZES) {
  test(`eigenvalues equal ml-matrix's on a float32 statistic X^T X: n=${n}`, () => {
    for (const rows of [3, 2 * n]) {
      const a = Float64Array.from(spd(n, rows, n + rows).flat());
      const reference = new EigenvalueDecomposition(
        new Matrix(Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * n, i * n + n)))),
        { assumeSymmetric: true },
      ).realEigenvalues.sort((x, y) => x - y);
      const eigen = symmetricEigen(a, n);
      assert.ok(relativeMaxError(eigen.values, reference) <= 1e-13 * Math.max(8, n));
      assert.ok(orthogonalityError(eigen.vectors, n) <= 1e-13 * Math.max(8, n));
    }
  });
}

test('special matrices: zero, identity, diagonal, rank one, 2x2 by hand', () => {
  const zero = symmetricEigen(new Float64Array(9), 3);
  assert.deepEqual(Array.from(zero.values), [0, 0, 0]);
  assert.ok(orthogonalityError(zero.vectors, 3) === 0);
  const eye = symmetricEigen(Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), 3);
  assert.deepEqual(Array.from(eye.values), [1, 1, 1]);
  const diagonal = symmetricEigen(Float64Array.from([3, 0, 0, 0, -1, 0, 0, 0, 2]), 3);
  assert.deepEqual(Array.from(diagonal.values), [-1, 2, 3]);
  const v = [1, 2, 3, 4];
  const rankOne = symmetricEigen(Float64Array.from(v.flatMap((x) => v.map((y) => x * y))), 4);
  assert.ok(relativeMaxError(rankOne.values, [0, 0, 0, 30]) <= 1e-14);
  // [[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvectors (1, -1) / sqrt 2 and (1, 1) / sqrt 2.
  const two = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
  assert.ok(relativeMaxError(two.values, [1, 3]) <= 1e-15);
  assert.ok(Math.abs(Math.abs(two.vectors[2]! + two.vectors[3]!) - Math.SQRT2) <= 1e-15);
  assert.ok(Math.abs(two.vectors[0]! + two.vectors[1]!) <= 1e-15);
});

test('only the upper triangle is read; scale does not matter', () => {
  const [c] = spectrumCases(17, 5);
  const n = c!.n;
  const upperOnly = c!.matrix.slice();
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) upperOnly[i * n + j] = Number.NaN;
  const eigen = symmetricEigen(upperOnly, n);
  const reference = symmetricEigen(c!.matrix, n);
  assert.deepEqual(Array.from(eigen.values), Array.from(reference.values));
  for (const scale of [1e-150, 1e150]) {
    const scaled = symmetricEigen(
      c!.matrix.map((x) => x * scale),
      n,
    );
    assert.ok(
      relativeMaxError(
        scaled.values.map((x) => x / scale),
        reference.values,
      ) <= 1e-13,
      `scale ${scale}`,
    );
  }
});

test('bad input: clear errors', () => {
  assert.throws(() => symmetricEigen(new Float64Array(0), 0), /order must be >= 1/);
  assert.throws(() => symmetricEigen(new Float64Array(5), 2), /Expected 4 entries/);
  assert.throws(
    () => symmetricEigen(Float64Array.from([1, Number.NaN, 0, 1]), 2),
    /entry \[0, 1\] is NaN/,
  );
  assert.throws(
    () => symmetricEigen(Float64Array.from([1, 0, 0, Number.POSITIVE_INFINITY]), 2),
    /entry \[1, 1\] is Infinity/,
  );
});
