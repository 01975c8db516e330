/**
 * Inverses of damped symmetric positive semi-definite matrices `(M + damping I)^-1`, as K-FAC and
 * FOOF need for their Kronecker factors. Two routes with the same contract:
 * - `'host'` (float64 Cholesky on the host): exact to float32 output precision at any
 *   conditioning; a Cholesky failure (possible only through round-off on a matrix that is not
 *   PSD) falls back to a symmetric eigendecomposition with eigenvalues clamped at 0.
 * - `'newton'` (tf ops, on the model's backend): Newton-Schulz iteration
 *   `X <- X (2I - A X)` from `X0 = I / |A|_F`; no host read; precision limited by float32 and by
 *   the iteration count on badly conditioned matrices.
 * `bench/linalg.ts` compares them at d = 128, 512, 1001.
 */
import * as tf from '@tensorflow/tfjs-core';
import { frobenius } from './norms.js';
import { EigenvalueDecomposition } from 'ml-matrix';
import { choleskyLower, lowerTriangularInverse } from './cholesky.js';
import { symmetricFromTensor, tensorFromMatrix } from './host-matrix.js';

/**
 * How inverses and inverse roots are computed: `'host'` in float64 with ml-matrix (Cholesky for
 * inverses, a symmetric eigendecomposition for roots), `'newton'` by iterations on tf ops.
 */
export type LinalgMethod = 'host' | 'newton';

function checkDamping(damping: number): void {
  if (!(damping > 0) || !Number.isFinite(damping)) {
    throw new Error(`The damping of an SPD inverse must be a finite number > 0, got ${damping}`);
  }
}

/**
 * `(M + damping I)^-1` in float64 on the host (M symmetric PSD, read from `matrix`): Cholesky
 * `L`, then `L^-1`, then `L^-T L^-1` as one matrix product on the tensor backend.
 */
export function dampedInverseHost(matrix: tf.Tensor2D, damping: number): tf.Tensor2D {
  checkDamping(damping);
  const [n, cols] = matrix.shape;
  if (n !== cols) throw new Error(`Expected a square matrix, got shape [${matrix.shape}]`);
  const values = matrix.dataSync();
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) a[i * n + j] = (values[i * n + j]! + values[j * n + i]!) / 2;
    a[i * n + i]! += damping;
  }
  const l = choleskyLower(a, n);
  if (l == null) return eigenInverse(matrix, damping);
  const inverseL = tf.tensor2d(Float32Array.from(lowerTriangularInverse(l, n)), [n, n]);
  try {
    return tf.matMul(inverseL, inverseL, true, false);
  } finally {
    inverseL.dispose();
  }
}

/** Fallback for round-off on a matrix that is not PSD: eigenvalues clamped at `damping`. */
function eigenInverse(matrix: tf.Tensor2D, damping: number): tf.Tensor2D {
  const m = symmetricFromTensor(matrix);
  const n = m.rows;
  for (let i = 0; i < n; i++) m.set(i, i, m.get(i, i) + damping);
  const evd = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const v = evd.eigenvectorMatrix;
  const scaled = v.clone();
  evd.realEigenvalues.forEach((lambda, j) => {
    const inv = 1 / Math.max(lambda, damping);
    for (let i = 0; i < n; i++) scaled.set(i, j, scaled.get(i, j) * inv);
  });
  return tensorFromMatrix(scaled.mmul(v.transpose()));
}

/** Options of {@link dampedInverseNewton}. */
export interface NewtonOptions {
  /** Iterations (default 30; each costs two d x d matrix products). */
  iterations?: number;
}

/** `(M + damping I)^-1` by Newton-Schulz iteration on tf ops (no host read). */
export function dampedInverseNewton(
  matrix: tf.Tensor2D,
  damping: number,
  options: NewtonOptions = {},
): tf.Tensor2D {
  checkDamping(damping);
  const iterations = options.iterations ?? 30;
  return tf.tidy(() => {
    const n = matrix.shape[0];
    const eye = tf.eye(n);
    const sym = tf.div(tf.add(matrix, tf.transpose(matrix)), 2);
    const a = tf.add(sym, tf.mul(eye, damping)) as tf.Tensor2D;
    let x = tf.div(eye, frobenius(a)) as tf.Tensor2D;
    const twoEye = tf.mul(eye, 2);
    for (let k = 0; k < iterations; k++) {
      const next = tf.matMul(x, tf.sub(twoEye, tf.matMul(a, x))) as tf.Tensor2D;
      x.dispose();
      x = next;
    }
    // Symmetrise the result (round-off makes X slightly asymmetric).
    return tf.div(tf.add(x, tf.transpose(x)), 2) as tf.Tensor2D;
  });
}

/** `(M + damping I)^-1` by the chosen route. */
export function dampedInverse(
  matrix: tf.Tensor2D,
  damping: number,
  method: LinalgMethod = 'host',
): tf.Tensor2D {
  return method === 'host'
    ? dampedInverseHost(matrix, damping)
    : dampedInverseNewton(matrix, damping);
}
