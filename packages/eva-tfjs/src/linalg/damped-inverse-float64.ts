/**
 * `(M + damping I)^-1` of a symmetric PSD matrix in float64 on flat row-major arrays, without
 * tf (so a worker thread can load it): Cholesky `L` of the symmetrised, damped matrix, `L^-1`,
 * then `L^-T L^-1`; when round-off makes the Cholesky fail (a matrix that is not PSD), a
 * symmetric eigendecomposition with eigenvalues clamped at `damping`, as `dampedInverseHost`.
 */
import { choleskyLower, lowerGram, lowerTriangularInverse } from './cholesky.js';
import { symmetricEigen, symmetricFunction } from './symmetric-eigen.js';

/**
 * `((M + M^T) / 2 + damping I)^-1` of the `n x n` matrix at `offset` of `values` (row-major),
 * full and symmetric, in float64. `damping` must be a finite number > 0.
 */
export function dampedInverseFloat64(
  values: ArrayLike<number>,
  offset: number,
  n: number,
  damping: number,
): Float64Array {
  if (!(damping > 0) || !Number.isFinite(damping)) {
    throw new Error(`The damping of an SPD inverse must be a finite number > 0, got ${damping}`);
  }
  const lower = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = (values[offset + i * n + j]! + values[offset + j * n + i]!) / 2;
      if (Number.isNaN(v)) throw new Error(`SPD inverse: entry [${i}, ${j}] is NaN`);
      lower[i * n + j] = v;
    }
    lower[i * n + i]! += damping;
  }
  const l = choleskyLower(lower, n);
  if (l != null) return lowerGram(lowerTriangularInverse(l, n), n);
  // The eigensolver reads the upper triangle.
  const upper = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) upper[j * n + i] = lower[i * n + j]!;
  return symmetricFunction(symmetricEigen(upper, n), (lambda) => 1 / Math.max(lambda, damping));
}
