/** Norms as plain tf ops that are fast on every backend. */
import * as tf from '@tensorflow/tfjs-core';

/**
 * `sqrt(sum(x^2))`. `tf.norm` computes `|x|^2` with `Pow` and `Abs`, several times slower on
 * wasm than `Square` (profiled: a quarter of an Eva-s step on the autoencoder).
 */
export function frobenius(x: tf.Tensor): tf.Scalar {
  return tf.sqrt(tf.sum(tf.square(x)));
}
