/**
 * Inverse p-th roots `(A + r I)^(-1/p)` of symmetric PSD matrices in float64 on flat row-major
 * arrays, with Shampoo's ridge `r = ridgeEpsilon * lambda_max(A)`: no tf dependency, so that a
 * worker thread ({@link InverseRootWorker}) can load it without a tensor backend.
 */
import { symmetricEigen, symmetricFunction } from './symmetric-eigen.js';

/** Smallest ridge used when the matrix is (numerically) zero. */
export const MIN_RIDGE = 1e-16;

/** Throws unless `p` is a positive integer and `ridgeEpsilon` a finite number >= 0. */
export function checkRoot(p: number, ridgeEpsilon: number): void {
  if (!Number.isInteger(p) || p < 1) {
    throw new Error(`The root of an inverse root must be a positive integer, got ${p}`);
  }
  if (!(ridgeEpsilon >= 0) || !Number.isFinite(ridgeEpsilon)) {
    throw new Error(`ridgeEpsilon must be a finite number >= 0, got ${ridgeEpsilon}`);
  }
}

/**
 * `(A + r I)^(-1/p)` in float64 of the symmetric PSD `n x n` matrix `a` (row-major; only its
 * upper triangle is read), `r = max(ridgeEpsilon * lambda_max, 1e-16)`; eigenvalues below 0
 * (round-off) count as 0. Returns the full symmetric row-major result.
 */
export function inverseRootFloat64(
  a: Float64Array,
  n: number,
  p: number,
  ridgeEpsilon: number,
): Float64Array {
  checkRoot(p, ridgeEpsilon);
  const eigen = symmetricEigen(a, n);
  const lambdaMax = Math.max(eigen.values[n - 1]!, 0);
  const ridge = Math.max(ridgeEpsilon * lambdaMax, MIN_RIDGE);
  return symmetricFunction(eigen, (lambda) => Math.pow(Math.max(lambda, 0) + ridge, -1 / p));
}

/** The upper triangle of `(M + M^T) / 2` in float64, from `n * n` row-major values at `offset`. */
export function symmetricUpper(values: ArrayLike<number>, offset: number, n: number): Float64Array {
  const upper = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      upper[i * n + j] = (values[offset + i * n + j]! + values[offset + j * n + i]!) / 2;
    }
  }
  return upper;
}
