/**
 * Symmetrising matrices: `(M + M^T) / 2` as a tensor, and the float64 lower triangle the host
 * factorisations read. Round-off makes computed factors and inverses slightly asymmetric; the
 * inverse routes symmetrise their input (and the backend routes their output).
 */
import * as tf from '@tensorflow/tfjs-core';

/** `(M + M^T) / 2` of a square tensor (call inside a tidy or dispose the result). */
export function symmetricPart(matrix: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(tf.add(matrix, tf.transpose(matrix)), 2)) as tf.Tensor2D;
}

/**
 * The lower triangle (diagonal included) of `(M + M^T) / 2 + shift I` in float64, row-major,
 * from the row-major values of a square `n x n` matrix `M`; the upper triangle is left zero.
 */
export function symmetricLowerFloat64(
  values: ArrayLike<number>,
  n: number,
  diagonalShift = 0,
): Float64Array {
  const lower = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) lower[i * n + j] = (values[i * n + j]! + values[j * n + i]!) / 2;
    lower[i * n + i]! += diagonalShift;
  }
  return lower;
}
