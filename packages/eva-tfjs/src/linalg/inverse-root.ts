/**
 * Inverse p-th roots `(M + r I)^(-1/p)` of symmetric PSD matrices, with the ridge
 * `r = ridgeEpsilon * lambda_max(M)` (Shampoo's regularisation). Two routes:
 * - `'host'`: a float64 symmetric eigendecomposition on flat arrays
 *   ({@link symmetricEigen}): exact; eigenvalues below 0 (round-off) are clamped to 0.
 *   {@link inverseRootsHost} does many matrices with one host read.
 * - `'newton'`: the coupled Newton iteration of Guo & Higham (2006) on tf ops, as Shampoo's
 *   reference port does: at most `iterations` steps, stopping at `tolerance` or when the error
 *   grows; one scalar host read per iteration for that test.
 * An all-zero matrix (e.g. a dead layer) has `lambda_max = 0`; the ridge is then floored so
 * the result stays finite.
 */
import * as tf from '@tensorflow/tfjs-core';
import { frobenius } from './norms.js';
import type { LinalgMethod } from './spd-inverse.js';
import {
  MIN_RIDGE,
  checkRoot,
  inverseRootFloat64,
  symmetricUpper,
} from './inverse-root-float64.js';

function checkSquare(matrix: tf.Tensor): number {
  const [n, m] = matrix.shape;
  if (matrix.rank !== 2 || n !== m) {
    throw new Error(`Expected a square matrix, got shape [${matrix.shape}]`);
  }
  return n!;
}

/** `(M + r I)^(-1/p)` by a float64 eigendecomposition on the host (one read of `matrix`). */
export function inverseRootHost(matrix: tf.Tensor2D, p: number, ridgeEpsilon: number): tf.Tensor2D {
  checkRoot(p, ridgeEpsilon);
  const n = checkSquare(matrix);
  const root = inverseRootFloat64(symmetricUpper(matrix.dataSync(), 0, n), n, p, ridgeEpsilon);
  return tf.tensor2d(Float32Array.from(root), [n, n]);
}

/**
 * {@link inverseRootHost} of every matrix (square, any sizes), `exponents` one p for all or one
 * per matrix, with ONE host read for all of them (a tidy concatenation read back at once).
 * Returns new tensors, in order; the inputs are not disposed.
 */
export function inverseRootsHost(
  matrices: readonly tf.Tensor2D[],
  exponents: number | readonly number[],
  ridgeEpsilon: number,
): tf.Tensor2D[] {
  const ps = typeof exponents === 'number' ? matrices.map(() => exponents) : exponents;
  if (ps.length !== matrices.length) {
    throw new Error(`Expected ${matrices.length} exponents, one per matrix, got ${ps.length}`);
  }
  ps.forEach((p) => checkRoot(p, ridgeEpsilon));
  const sizes = matrices.map(checkSquare);
  if (matrices.length === 0) return [];
  const all = tf.tidy(() => tf.concat(matrices.map((m) => tf.reshape(m, [-1]))));
  let values: Float32Array;
  try {
    values = all.dataSync() as Float32Array;
  } finally {
    all.dispose();
  }
  const roots: tf.Tensor2D[] = [];
  let offset = 0;
  try {
    sizes.forEach((n, i) => {
      const root = inverseRootFloat64(symmetricUpper(values, offset, n), n, ps[i]!, ridgeEpsilon);
      offset += n * n;
      roots.push(tf.tensor2d(Float32Array.from(root), [n, n]));
    });
  } catch (error) {
    tf.dispose(roots); // e.g. a non-finite statistic: no root is left behind
    throw error;
  }
  return roots;
}

/** Options of {@link inverseRootNewton}. */
export interface InverseRootNewtonOptions {
  /** Maximum iterations (default 100). */
  iterations?: number;
  /** Stop when `max |M - I| <= tolerance` (default 1e-6). */
  tolerance?: number;
  /** Power-iteration steps for `lambda_max` (default 100). */
  powerIterations?: number;
}

/** The largest eigenvalue of a symmetric PSD matrix by power iteration (tf ops). */
export function largestEigenvalue(matrix: tf.Tensor2D, iterations = 100): tf.Scalar {
  return tf.tidy(() => {
    const n = matrix.shape[0];
    let v = tf.div(tf.ones([n, 1]), Math.sqrt(n)) as tf.Tensor2D;
    let lambda: tf.Scalar = tf.scalar(0);
    for (let k = 0; k < iterations; k++) {
      const w = tf.matMul(matrix, v);
      lambda = tf.sum(tf.mul(v, w)) as tf.Scalar;
      const norm = frobenius(w);
      v = tf.div(w, tf.maximum(norm, 1e-30)) as tf.Tensor2D;
    }
    return tf.maximum(lambda, 0) as tf.Scalar;
  });
}

function matrixPower(m: tf.Tensor2D, p: number): tf.Tensor2D {
  let result: tf.Tensor2D | null = null;
  let square = m;
  let k = p;
  while (k > 0) {
    if (k & 1) result = result == null ? square : (tf.matMul(result, square) as tf.Tensor2D);
    k >>= 1;
    if (k > 0) square = tf.matMul(square, square) as tf.Tensor2D;
  }
  return result!;
}

/** `(M + r I)^(-1/p)` by the coupled Newton iteration on tf ops. */
export function inverseRootNewton(
  matrix: tf.Tensor2D,
  p: number,
  ridgeEpsilon: number,
  options: InverseRootNewtonOptions = {},
): tf.Tensor2D {
  checkRoot(p, ridgeEpsilon);
  const maxIterations = options.iterations ?? 100;
  const tolerance = options.tolerance ?? 1e-6;
  const n = matrix.shape[0];
  let x: tf.Tensor2D;
  let m: tf.Tensor2D;
  const eye = tf.eye(n);
  try {
    [x, m] = tf.tidy(() => {
      const sym = tf.div(tf.add(matrix, tf.transpose(matrix)), 2);
      const lambdaMax = largestEigenvalue(sym as tf.Tensor2D, options.powerIterations);
      const ridge = tf.maximum(tf.mul(lambdaMax, ridgeEpsilon), MIN_RIDGE);
      const a = tf.add(sym, tf.mul(eye, ridge));
      const z = tf.div((1 + p) / 2, frobenius(a));
      return [tf.mul(eye, tf.pow(z, 1 / p)), tf.mul(a, z)] as [tf.Tensor2D, tf.Tensor2D];
    });
    const errorOf = (mm: tf.Tensor2D) => {
      const error = tf.tidy(() => tf.max(tf.abs(tf.sub(mm, eye))));
      const value = error.dataSync()[0]!;
      error.dispose();
      return value;
    };
    let error = errorOf(m);
    for (let k = 0; k < maxIterations && error > tolerance; k++) {
      const [nextX, nextM] = tf.tidy(() => {
        const t = tf.div(tf.sub(tf.mul(eye, p + 1), m), p) as tf.Tensor2D;
        return [tf.matMul(x, t), tf.matMul(matrixPower(t, p), m)] as [tf.Tensor2D, tf.Tensor2D];
      });
      const nextError = errorOf(nextM);
      if (!(nextError <= error * 1.2)) {
        nextX.dispose();
        nextM.dispose();
        break;
      }
      x.dispose();
      m.dispose();
      x = nextX;
      m = nextM;
      error = nextError;
    }
    m.dispose();
    return x;
  } finally {
    eye.dispose();
  }
}

/** `(M + r I)^(-1/p)` by the chosen route. */
export function inverseRoot(
  matrix: tf.Tensor2D,
  p: number,
  ridgeEpsilon: number,
  method: LinalgMethod = 'host',
): tf.Tensor2D {
  return method === 'host'
    ? inverseRootHost(matrix, p, ridgeEpsilon)
    : inverseRootNewton(matrix, p, ridgeEpsilon);
}
