/**
 * M-FAC (Frantar, Kurtic & Alistarh 2021), the dense matrix-free variant: the inverse of the
 * damped empirical Fisher of the last m gradients, `F = lambda I + (1/m) sum_i g_i g_i^T`,
 * applied to a vector without ever forming a d x d matrix.
 *
 * The recursive Sherman-Morrison formula adds one gradient at a time; its coefficients depend
 * only on the m x m Gram matrix `G G^T`: the i-th denominator `m + g_i^T F_{i-1}^-1 g_i` is the
 * i-th pivot of the LDL^T (Cholesky) factorisation of `K = m I + G G^T / lambda`, and the
 * product is `F^-1 x = x / lambda - G^T K^-1 (G x) / lambda^2`. The factorisation is done in float64 on the
 * host (O(m^3), as the reference recomputes its coefficients every step); the O(m d) products
 * with the gradient window run on the tensor backend.
 */
import { choleskyLower } from '../linalg/cholesky.js';

/**
 * Solves `K z = y` with `K = m I + gram / lambda` (`gram` the k x k Gram matrix of the stored
 * gradients, row-major float64, k <= m). Returns `z`.
 */
export function mfacCoefficients(
  gram: Float64Array,
  k: number,
  m: number,
  lambda: number,
  y: Float64Array,
): Float64Array {
  const kMatrix = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) kMatrix[i * k + j] = gram[i * k + j]! / lambda;
    kMatrix[i * k + i]! += m;
  }
  const l = choleskyLower(kMatrix, k);
  if (l == null) throw new Error('M-FAC: the Gram system is not positive definite');
  // Forward substitution L u = y, then back substitution L^T z = u.
  const u = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let s = y[i]!;
    for (let j = 0; j < i; j++) s -= l[i * k + j]! * u[j]!;
    u[i] = s / l[i * k + i]!;
  }
  const z = new Float64Array(k);
  for (let i = k - 1; i >= 0; i--) {
    let s = u[i]!;
    for (let j = i + 1; j < k; j++) s -= l[j * k + i]! * z[j]!;
    z[i] = s / l[i * k + i]!;
  }
  return z;
}
