/**
 * Eva-f (paper Eq. 21), the vectorized FOOF: with `a` the running bias-augmented mean input of
 * a layer, FOOF's factor `A` is replaced by the rank-one `a a^T`, whose damped inverse is given by
 * Sherman-Morrison: in tfjs layout `P = (Gt - a r^T) / gamma` with
 * `r = Gt^T a / (gamma + a^T a)`. The final `/ gamma` is the paper's; the authors' code leaves it
 * out (`divideByDamping: false`).
 *
 * Like Eva, the kernel and bias parts are handled separately (no concatenated matrix) and the
 * KL-normalisation sum is analytic: `P . Gt = (|Gt|^2 - |Gt^T a|^2 / (gamma + a^T a)) / gamma`,
 * so P is formed once, already scaled.
 */
import * as tf from '@tensorflow/tfjs-core';
import { activationMean } from '../capture/statistics.js';
import type { StatisticFunctions } from '../capture/model-capture.js';
import { splitActivation, type LayerGradient } from './eva.js';

/** Eva-f's statistics: the batch-mean (bias-augmented) input; no gradient statistic. */
export const evaFStatistics: StatisticFunctions = {
  activation: activationMean,
  gradient: () => tf.zeros([0]),
  gradientDegree: 0,
};

/** The vectors and scalars of one layer's Eva-f update. */
export interface EvaFTerms {
  /** `r = Gt^T a / (gamma + a^T a)`, `[out]`. */
  r: tf.Tensor1D;
  /** `P . Gt` of the unscaled P (with `/ gamma` when dividing by the damping). */
  klSize: tf.Scalar;
}

/** Computes `r` and `P . Gt` for one layer (call inside a tidy). */
export function evaFTerms(
  grad: LayerGradient,
  a: tf.Tensor1D,
  damping: number,
  divideByDamping: boolean,
): EvaFTerms {
  const { weight: aw, bias: ab } = splitActivation(a, grad);
  let gta: tf.Tensor = tf.reshape(tf.matMul(tf.reshape(aw, [1, -1]), grad.kernel), [-1]);
  let gradientSquaredNorm: tf.Tensor = tf.sum(tf.square(grad.kernel));
  let aa: tf.Tensor = tf.sum(tf.square(aw));
  if (grad.bias != null && ab != null) {
    gta = tf.add(gta, tf.mul(grad.bias, ab));
    gradientSquaredNorm = tf.add(gradientSquaredNorm, tf.sum(tf.square(grad.bias)));
    aa = tf.add(aa, tf.square(ab));
  }
  const denominator = tf.add(aa, damping);
  const projected = tf.div(tf.sum(tf.square(gta)), denominator);
  const klSize = tf.sub(gradientSquaredNorm, projected);
  return {
    r: tf.div(gta, denominator) as tf.Tensor1D,
    klSize: (divideByDamping ? tf.div(klSize, damping) : klSize) as tf.Scalar,
  };
}

/** `scale * P` of Eq. 21, split into kernel `[in, out]` and bias (call inside a tidy). */
export function evaFApply(
  grad: LayerGradient,
  a: tf.Tensor1D,
  terms: EvaFTerms,
  damping: number,
  divideByDamping: boolean,
  scale: tf.Scalar,
): LayerGradient {
  const { weight: aw, bias: ab } = splitActivation(a, grad);
  const factor = divideByDamping ? tf.div(scale, damping) : scale;
  const scaledR = tf.mul(terms.r, factor);
  const kernel = tf.sub(
    tf.mul(grad.kernel, factor),
    tf.mul(tf.reshape(aw, [-1, 1]), tf.reshape(scaledR, [1, -1])),
  ) as tf.Tensor2D;
  const bias =
    grad.bias != null && ab != null
      ? (tf.sub(tf.mul(grad.bias, factor), tf.mul(scaledR, ab)) as tf.Tensor1D)
      : null;
  return { kernel, bias };
}
