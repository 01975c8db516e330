/**
 * Inverses of damped symmetric positive semi-definite matrices `(M + damping I)^-1`, as K-FAC and
 * FOOF need for their Kronecker factors. Three routes with the same contract:
 * - `'blocked'` (the default, {@link dampedInverseBlocked}): on the tensor backend in float32.
 *   Damping-dominated matrices take a truncated Neumann series where that is exact to float32
 *   (elementwise or one product); the others a recursive 2x2 block Cholesky inverse
 *   ({@link spdBlockInverse}) with diagonal blocks of at most 64 rows in float64 on the host
 *   (one small read-back each), within a few times the error of a float32 Cholesky inverse, a
 *   relative error growing with `cond <= (lambda_max + damping) / damping` (bench/linalg.md).
 *   When round-off makes a block indefinite (a matrix that is not PSD, or a condition number
 *   near 1e7) it falls back to `'host'`.
 * - `'host'` (float64 Cholesky on the host): exact to float32 output precision at any
 *   conditioning; a Cholesky failure (possible only through round-off on a matrix that is not
 *   PSD) falls back to a symmetric eigendecomposition with eigenvalues clamped at 0.
 * - `'newton'` (tf ops, on the model's backend): Newton-Schulz iteration
 *   `X <- X (2I - A X)` from `X0 = I / |A|_F`; no host read; precision limited by float32 and by
 *   the iteration count on badly conditioned matrices.
 * `'blocked'` and `'newton'` symmetrise their float32 result exactly; `'host'`'s `L^-T L^-1` is
 * symmetric up to round-off. `bench/linalg.ts` and `bench/factor-inverses.ts` compare them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { frobenius } from './norms.js';
import { EigenvalueDecomposition } from 'ml-matrix';
import { DEFAULT_LEAF_SIZE, spdBlockInverse } from './block-inverse.js';
import { choleskyLower, lowerTriangularInverse } from './cholesky.js';
import { symmetricFromTensor, tensorFromMatrix } from './host-matrix.js';
import { neumannInverse, neumannTerms } from './neumann-inverse.js';
import { symmetricLowerFloat64, symmetricPart } from './symmetric-part.js';

/**
 * How inverses and inverse roots are computed: `'host'` in float64 with ml-matrix (Cholesky for
 * inverses, a symmetric eigendecomposition for roots), `'newton'` by iterations on tf ops.
 */
export type LinalgMethod = 'host' | 'newton';

/**
 * How damped SPD inverses are computed (K-FAC, FOOF): `'blocked'` in float32 on the tensor
 * backend (a Neumann series where the damping dominates, otherwise a recursive 2x2 block
 * Cholesky with small blocks in float64 on the host), or one of the {@link LinalgMethod} routes.
 */
export type InverseMethod = LinalgMethod | 'blocked';

function checkArguments(matrix: tf.Tensor2D, damping: number): void {
  if (!(damping > 0) || !Number.isFinite(damping)) {
    throw new Error(`The damping of an SPD inverse must be a finite number > 0, got ${damping}`);
  }
  const [n, cols] = matrix.shape;
  if (n !== cols) throw new Error(`Expected a square matrix, got shape [${matrix.shape}]`);
}

/**
 * `(M + damping I)^-1` in float64 on the host (M symmetric PSD, read from `matrix`): Cholesky
 * `L`, then `L^-1`, then `L^-T L^-1` as one matrix product on the tensor backend.
 */
export function dampedInverseHost(matrix: tf.Tensor2D, damping: number): tf.Tensor2D {
  checkArguments(matrix, damping);
  const n = matrix.shape[0];
  const l = choleskyLower(symmetricLowerFloat64(matrix.dataSync(), n, damping), n);
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
  checkArguments(matrix, damping);
  const iterations = options.iterations ?? 30;
  return tf.tidy(() => {
    const n = matrix.shape[0];
    const eye = tf.eye(n);
    const a = tf.add(symmetricPart(matrix), tf.mul(eye, damping)) as tf.Tensor2D;
    let x = tf.div(eye, frobenius(a)) as tf.Tensor2D;
    const twoEye = tf.mul(eye, 2);
    for (let k = 0; k < iterations; k++) {
      const next = tf.matMul(x, tf.sub(twoEye, tf.matMul(a, x))) as tf.Tensor2D;
      x.dispose();
      x = next;
    }
    // Symmetrise the result (round-off makes X slightly asymmetric).
    return symmetricPart(x);
  });
}

/** Options of {@link dampedInverseBlocked}. */
export interface BlockedOptions {
  /** The largest diagonal block factored in float64 on the host (default 64). */
  leafSize?: number;
  /**
   * Whether a damping-dominated matrix takes a truncated Neumann series where that is exact to
   * float32 ({@link neumannTerms}; default true).
   */
  neumann?: boolean;
}

/**
 * `(M + damping I)^-1` on the tensor backend, float32 products:
 * - when the damping dominates (`|M|_F / damping` below about 4.6e-3, so that the Neumann series
 *   cut after `E` or `E^2`, `E = M / damping`, is exact to float32, {@link neumannTerms}): that
 *   series, elementwise or one matrix product (K-FAC's factors are usually in this regime);
 * - otherwise a recursive 2x2 block Cholesky factorisation ({@link spdBlockInverse}), diagonal
 *   blocks of at most `leafSize` rows in float64 on the host (each read back: a sync per block,
 *   fine at an inverse interval, not per step). Falls back to {@link dampedInverseHost} when
 *   round-off makes a block indefinite.
 */
export function dampedInverseBlocked(
  matrix: tf.Tensor2D,
  damping: number,
  options: BlockedOptions = {},
): tf.Tensor2D {
  checkArguments(matrix, damping);
  const symmetric = symmetricPart(matrix);
  let inverse: tf.Tensor2D | null = null;
  try {
    if (options.neumann ?? true) {
      const rho = tf.tidy(() => frobenius(symmetric).dataSync()[0]!) / damping;
      const terms = neumannTerms(rho);
      if (terms != null) return neumannInverse(symmetric, damping, terms);
    }
    const damped = tf.tidy(() => tf.add(symmetric, tf.mul(tf.eye(matrix.shape[0]), damping)));
    try {
      inverse = spdBlockInverse(damped as tf.Tensor2D, options.leafSize ?? DEFAULT_LEAF_SIZE);
    } finally {
      damped.dispose();
    }
    return inverse == null ? dampedInverseHost(matrix, damping) : symmetricPart(inverse);
  } finally {
    symmetric.dispose();
    inverse?.dispose();
  }
}

/** `(M + damping I)^-1` by the chosen route (default `'blocked'`). */
export function dampedInverse(
  matrix: tf.Tensor2D,
  damping: number,
  method: InverseMethod = 'blocked',
): tf.Tensor2D {
  switch (method) {
    case 'blocked':
      return dampedInverseBlocked(matrix, damping);
    case 'host':
      return dampedInverseHost(matrix, damping);
    case 'newton':
      return dampedInverseNewton(matrix, damping);
  }
}
