/**
 * Inverse p-th roots `(M + r I)^(-1/p)` of symmetric PSD matrices, with the ridge
 * `r = ridgeEpsilon * lambda_max(M)` (Shampoo's regularisation). Two routes:
 * - `'host'`: a float64 symmetric eigendecomposition
 *   (ml-matrix): exact; eigenvalues below 0 (round-off) are clamped to 0.
 * - `'newton'`: the coupled Newton iteration of Guo & Higham (2006) on tf ops, as Shampoo's
 *   reference port does: at most `iterations` steps, stopping at `tolerance` or when the error
 *   grows; one scalar host read per iteration for that test.
 * An all-zero matrix (e.g. a dead layer) has `lambda_max = 0`; the ridge is then floored so
 * the result stays finite.
 */
import * as tf from '@tensorflow/tfjs-core';
import { frobenius } from './norms.js';
import { EigenvalueDecomposition } from 'ml-matrix';
import { symmetricFromTensor, tensorFromMatrix } from './host-matrix.js';
import type { LinalgMethod } from './spd-inverse.js';

/** Smallest ridge used when the matrix is (numerically) zero. */
const MIN_RIDGE = 1e-16;

function checkRoot(p: number, ridgeEpsilon: number): void {
  if (!Number.isInteger(p) || p < 1) {
    throw new Error(`The root of an inverse root must be a positive integer, got ${p}`);
  }
  if (!(ridgeEpsilon >= 0) || !Number.isFinite(ridgeEpsilon)) {
    throw new Error(`ridgeEpsilon must be a finite number >= 0, got ${ridgeEpsilon}`);
  }
}

/** `(M + r I)^(-1/p)` by a float64 eigendecomposition on the host. */
export function inverseRootHost(matrix: tf.Tensor2D, p: number, ridgeEpsilon: number): tf.Tensor2D {
  checkRoot(p, ridgeEpsilon);
  const m = symmetricFromTensor(matrix);
  const n = m.rows;
  const evd = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const eigenvalues = evd.realEigenvalues.map((v) => Math.max(v, 0));
  const ridge = Math.max(ridgeEpsilon * Math.max(...eigenvalues), MIN_RIDGE);
  const v = evd.eigenvectorMatrix;
  const scaled = v.clone();
  eigenvalues.forEach((lambda, j) => {
    const factor = Math.pow(lambda + ridge, -1 / p);
    for (let i = 0; i < n; i++) scaled.set(i, j, scaled.get(i, j) * factor);
  });
  return tensorFromMatrix(scaled.mmul(v.transpose()));
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
