/**
 * Eva-f (paper Eq. 21), the vectorized FOOF: with `a` the running bias-augmented mean input of
 * a layer, FOOF's factor `A` is replaced by the rank-one `a a^T`, whose damped inverse is given by
 * Sherman-Morrison: in tfjs layout `P = (Gt - a (a^T Gt) / (gamma + a^T a)) / gamma`. The final
 * `/ gamma` is the paper's; the authors' code leaves it out (`divideByDamping: false`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { activationMean } from '../capture/statistics.js';
import type { StatisticFunctions } from '../capture/model-capture.js';

/** Eva-f's statistics: the batch-mean (bias-augmented) input; no gradient statistic. */
export const evaFStatistics: StatisticFunctions = {
  activation: activationMean,
  gradient: () => tf.zeros([0]),
};

/** `P` of Eq. 21 for a layer matrix `gt` `[in (+1), out]` and its vector `a` `[in (+1)]`. */
export function evaFApply(
  gt: tf.Tensor2D,
  a: tf.Tensor1D,
  damping: number,
  divideByDamping: boolean,
): tf.Tensor2D {
  return tf.tidy(() => {
    const column = tf.reshape(a, [-1, 1]) as tf.Tensor2D;
    const aGt = tf.matMul(column, gt, true, false);
    const coefficient = tf.div(1, tf.add(tf.sum(tf.square(a)), damping));
    const p = tf.sub(gt, tf.mul(tf.matMul(column, aGt), coefficient));
    return (divideByDamping ? tf.div(p, damping) : p) as tf.Tensor2D;
  });
}
