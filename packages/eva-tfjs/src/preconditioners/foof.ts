/**
 * FOOF (Benzing 2022): only the input factor, `P = G (A + gamma I)^-1`, in tfjs layout
 * `P = (A + gamma I)^-1 Gt`, normalised like Eva-f.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { StatisticFunctions } from '../capture/model-capture.js';
import { activationFactor } from './kfac.js';

/** FOOF's statistics: the input factor `A` only. */
export const foofStatistics: StatisticFunctions = {
  activation: activationFactor,
  gradient: () => tf.zeros([0]),
  gradientDegree: 0,
};

/** `P = (A + gamma I)^-1 Gt` from the precomputed damped inverse. */
export function foofApply(gt: tf.Tensor2D, inverseA: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(inverseA, gt));
}
