/**
 * K-FAC (Martens & Grosse; the reference's variant): per layer the Fisher block is approximated
 * by `A (x) Gf` with `A = a^T a / n` over the (bias-augmented) input rows and `Gf = g^T g / n` over
 * the pre-activation gradient rows (Conv2D rows are spatial means per sample). Damping is split
 * between the factors with `pi`, and in tfjs layout the update is `P = A^-1 Gt Gf^-1`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { activationRows, gradientRows } from '../capture/statistics.js';
import type { StatisticFunctions } from '../capture/model-capture.js';
import type { LayerGeometry } from '../capture/layer-geometry.js';

/** `rows^T rows / n` (call inside a tidy). */
export function covariance(rows: tf.Tensor2D): tf.Tensor2D {
  return tf.div(tf.matMul(rows, rows, true, false), rows.shape[0]) as tf.Tensor2D;
}

/** The input factor `A` of one capture. */
export function activationFactor(x: tf.Tensor, geometry: LayerGeometry): tf.Tensor2D {
  return tf.tidy(() => covariance(activationRows(x, geometry)));
}

/** K-FAC's statistics: both Kronecker factors. */
export const kfacStatistics: StatisticFunctions = {
  activation: activationFactor,
  gradient: (dy, geometry) => tf.tidy(() => covariance(gradientRows(dy, geometry))),
  gradientDegree: 2,
};

/** The reference's cap on `pi`. */
const MAX_PI = 1e10;

/**
 * The damping split `pi = sqrt((tr A / dim A) / (tr Gf / dim Gf))`, capped at 1e10; 1 when it is
 * undefined (a zero factor), so both factors then get `sqrt(gamma)`.
 */
export function dampingSplit(traceA: number, dimA: number, traceG: number, dimG: number): number {
  const pi = Math.sqrt(traceA / dimA / (traceG / dimG));
  if (!Number.isFinite(pi) || pi <= 0) return traceA > 0 && !(traceG > 0) ? MAX_PI : 1;
  return Math.min(pi, MAX_PI);
}

/** The trace of a square matrix as a scalar tensor (call inside a tidy). */
export function trace(matrix: tf.Tensor2D): tf.Scalar {
  return tf.sum(tf.mul(matrix, tf.eye(matrix.shape[0]))) as tf.Scalar;
}

/** `P = A^-1 Gt Gf^-1` in tfjs layout. */
export function kfacApply(
  gt: tf.Tensor2D,
  inverseA: tf.Tensor2D,
  inverseG: tf.Tensor2D,
): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(tf.matMul(inverseA, gt), inverseG));
}
