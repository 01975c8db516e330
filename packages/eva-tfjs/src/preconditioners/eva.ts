/**
 * Eva (paper Eq. 13): per layer, the Sherman-Morrison inverse of `(g g^T) (x) (a a^T) + gamma I`
 * applied to the gradient, from the running Kronecker vectors `a` (bias-augmented mean input)
 * and `g` (mean pre-activation gradient). O(d) state, O(d) work per layer, no inverse.
 *
 * In tfjs layout the layer gradient is `Gt = [kernel rows; bias row]` of shape `[in (+1), out]`
 * (the transpose of PyTorch's `[out, in+1]`), so with `c = (a^T Gt g) / (|a|^2 |g|^2 + gamma)`:
 * `P = (Gt - c a g^T) / gamma`. The scalars of the KL clipping are derived from the same terms,
 * so no P-sized product is formed for them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { activationMean, gradientMean } from '../capture/statistics.js';
import type { StatisticFunctions } from '../capture/model-capture.js';

/** Eva's statistics: batch-mean activation (bias-augmented) and pre-activation gradient. */
export const evaStatistics: StatisticFunctions = {
  activation: activationMean,
  gradient: gradientMean,
  gradientDegree: 1,
};

/** A layer's gradient as Eva sees it: the kernel as a `[in, out]` matrix and the bias. */
export interface LayerGradient {
  /** Kernel gradient reshaped to `[in, out]` (Conv2D: `[kh*kw*cin, cout]`). */
  kernel: tf.Tensor2D;
  /** Bias gradient `[out]`, or null for a layer without (trainable) bias. */
  bias: tf.Tensor1D | null;
}

/** The scalars of one layer's Eva update. */
export interface EvaTerms {
  /** `c = a^T Gt g / (|a|^2 |g|^2 + gamma)`. */
  coefficient: tf.Scalar;
  /** `a^T Gt g`. */
  aGg: tf.Scalar;
  /** `|Gt|^2`. */
  gradientSquaredNorm: tf.Scalar;
  /** `|a|^2 |g|^2`. */
  vectorSquaredNorms: tf.Scalar;
}

/**
 * Splits `a` into its kernel part and, when the layer's bias gradient is present, its bias
 * element (a layer without a trainable bias uses the kernel part only).
 */
export function splitActivation(
  a: tf.Tensor1D,
  grad: LayerGradient,
): { weight: tf.Tensor1D; bias: tf.Scalar | null } {
  const inFeatures = grad.kernel.shape[0];
  const weight = a.shape[0] === inFeatures ? a : tf.slice(a, 0, inFeatures);
  if (grad.bias == null) return { weight, bias: null };
  if (a.shape[0] !== inFeatures + 1) {
    throw new Error(`Eva: a bias gradient needs a of length ${inFeatures + 1}, got ${a.shape[0]}`);
  }
  return { weight, bias: tf.reshape(tf.slice(a, inFeatures, 1), []) as tf.Scalar };
}

/** Computes the scalars of Eva's update for one layer (call inside a tidy). */
export function evaTerms(
  grad: LayerGradient,
  a: tf.Tensor1D,
  g: tf.Tensor1D,
  damping: number,
): EvaTerms {
  const { weight: aw, bias: ab } = splitActivation(a, grad);
  const gColumn = tf.reshape(g, [-1, 1]) as tf.Tensor2D;
  let aGg: tf.Tensor = tf.sum(tf.mul(tf.reshape(tf.matMul(grad.kernel, gColumn), [-1]), aw));
  let gradientSquaredNorm: tf.Tensor = tf.sum(tf.square(grad.kernel));
  let aa: tf.Tensor = tf.sum(tf.square(aw));
  if (grad.bias != null && ab != null) {
    aGg = tf.add(aGg, tf.mul(ab, tf.sum(tf.mul(grad.bias, g))));
    gradientSquaredNorm = tf.add(gradientSquaredNorm, tf.sum(tf.square(grad.bias)));
    aa = tf.add(aa, tf.square(ab));
  }
  const vectorSquaredNorms = tf.mul(aa, tf.sum(tf.square(g)));
  return {
    coefficient: tf.div(aGg, tf.add(vectorSquaredNorms, damping)) as tf.Scalar,
    aGg: aGg as tf.Scalar,
    gradientSquaredNorm: gradientSquaredNorm as tf.Scalar,
    vectorSquaredNorms: vectorSquaredNorms as tf.Scalar,
  };
}

/** `p . g` of the (unclipped) preconditioned gradient: `(|G|^2 - c aGg) / gamma`. */
export function evaKlSize(terms: EvaTerms, damping: number): tf.Scalar {
  return tf.div(
    tf.sub(terms.gradientSquaredNorm, tf.mul(terms.coefficient, terms.aGg)),
    damping,
  ) as tf.Scalar;
}

/** `|p|^2` of the (unclipped) preconditioned gradient. */
export function evaSquaredNorm(terms: EvaTerms, damping: number): tf.Scalar {
  const c = terms.coefficient;
  return tf.div(
    tf.add(
      tf.sub(terms.gradientSquaredNorm, tf.mul(2, tf.mul(c, terms.aGg))),
      tf.mul(tf.square(c), terms.vectorSquaredNorms),
    ),
    damping * damping,
  ) as tf.Scalar;
}

/**
 * The preconditioned gradient `scale * (Gt - c a g^T) / gamma`, split back into kernel
 * (`[in, out]`) and bias; `scale` is the KL-clipping factor.
 */
export function evaApply(
  grad: LayerGradient,
  a: tf.Tensor1D,
  g: tf.Tensor1D,
  terms: EvaTerms,
  damping: number,
  scale: tf.Scalar,
): LayerGradient {
  const { weight: aw, bias: ab } = splitActivation(a, grad);
  const gradScale = tf.div(scale, damping);
  const scaledG = tf.mul(g, tf.mul(gradScale, terms.coefficient));
  const kernel = tf.sub(
    tf.mul(grad.kernel, gradScale),
    tf.mul(tf.reshape(aw, [-1, 1]), tf.reshape(scaledG, [1, -1])),
  ) as tf.Tensor2D;
  const bias =
    grad.bias != null && ab != null
      ? (tf.sub(tf.mul(grad.bias, gradScale), tf.mul(scaledG, ab)) as tf.Tensor1D)
      : null;
  return { kernel, bias };
}
