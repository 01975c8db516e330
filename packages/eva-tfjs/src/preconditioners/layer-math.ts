/**
 * Layer math shared by the algorithms: a Dense/Conv2D layer's gradient in kernel `[in, out]` /
 * bias form ({@link LayerGradient}, what the pipeline hands to layer-wise algorithms), the one
 * pair of layout converters to and from the bias-augmented matrix `Gt = [kernel rows; bias row]`
 * of shape `[in (+1), out]` (the transpose of PyTorch's `[out, in+1]`; a Conv2D kernel
 * `[kh, kw, cin, cout]` becomes `[kh*kw*cin, cout]`), a direction built from such a matrix, and
 * grafting.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayerGeometry } from '../capture/layer-geometry.js';
import type { CapturedLayer } from '../capture/model-capture.js';
import { frobenius } from '../linalg/norms.js';
import type { LayerDirection } from '../optimizer/algorithm.js';

/** A layer's gradient (or direction): the kernel as a `[in, out]` matrix and the bias. */
export interface LayerGradient {
  /** Kernel reshaped to `[in, out]` (Conv2D: `[kh*kw*cin, cout]`). */
  kernel: tf.Tensor2D;
  /** Bias `[out]`, or null for a layer without (trainable) bias. */
  bias: tf.Tensor1D | null;
  /**
   * `|kernel|^2 + |bias|^2` when already known: the pipeline computes every gradient's squared
   * norm for its finite check and hands it on, so algorithms need no pass of their own for it.
   */
  squaredNorm?: tf.Scalar;
}

/** The bias-augmented input size of a layer (the length of its activation statistics). */
export const augmentedIn = (layer: CapturedLayer): number =>
  layer.geometry.inFeatures + (layer.geometry.hasBias ? 1 : 0);

/**
 * Splits a bias-augmented vector `a` (`[in (+1)]`) into its kernel part and, when the layer's
 * bias gradient is present, its bias element (a layer without a trainable bias uses the kernel
 * part only).
 */
export function splitActivation(
  a: tf.Tensor1D,
  gradient: LayerGradient,
): { weight: tf.Tensor1D; bias: tf.Scalar | null } {
  const inFeatures = gradient.kernel.shape[0];
  const weight = a.shape[0] === inFeatures ? a : tf.slice(a, 0, inFeatures);
  if (gradient.bias == null) return { weight, bias: null };
  if (a.shape[0] !== inFeatures + 1) {
    throw new Error(
      `A bias gradient needs a vector of length ${inFeatures + 1}, got ${a.shape[0]}`,
    );
  }
  return { weight, bias: tf.reshape(tf.slice(a, inFeatures, 1), []) as tf.Scalar };
}

/**
 * The matrix `[in (+1), out]` of a layer gradient (call inside a tidy). When the layer has a
 * bias that is not being trained, the bias row is zero so the matrix still matches the
 * bias-augmented statistics.
 */
export function layerMatrix(geometry: LayerGeometry, gradient: LayerGradient): tf.Tensor2D {
  if (!geometry.hasBias) return gradient.kernel;
  const biasRow =
    gradient.bias == null
      ? tf.zeros([1, geometry.outFeatures])
      : tf.reshape(gradient.bias, [1, -1]);
  return tf.concat([gradient.kernel, biasRow as tf.Tensor2D], 0);
}

/**
 * The inverse of {@link layerMatrix}: kernel `[in, out]` and bias (dropped when `withBias` is
 * false, i.e. the bias is not being trained).
 */
export function splitLayerMatrix(
  geometry: LayerGeometry,
  matrix: tf.Tensor2D,
  withBias: boolean,
): LayerGradient {
  if (!geometry.hasBias) return { kernel: matrix, bias: null };
  const kernel = tf.slice(matrix, [0, 0], [geometry.inFeatures, -1]) as tf.Tensor2D;
  const bias = withBias
    ? (tf.reshape(tf.slice(matrix, [geometry.inFeatures, 0], [1, -1]), [-1]) as tf.Tensor1D)
    : null;
  return { kernel, bias };
}

/**
 * The {@link LayerDirection} of a preconditioned matrix `p` for the gradient matrix `gt`, both
 * `[in (+1), out]` (call inside a tidy).
 */
export function matrixDirection(
  geometry: LayerGeometry,
  gt: tf.Tensor2D,
  p: tf.Tensor2D,
  withBias: boolean,
): LayerDirection {
  return {
    dotGradient: () => tf.sum(tf.mul(p, gt)) as tf.Scalar,
    squaredNorm: () => tf.sum(tf.square(p)) as tf.Scalar,
    gradientSquaredNorm: () => tf.sum(tf.square(gt)) as tf.Scalar,
    scaled: (scale) =>
      splitLayerMatrix(geometry, scale == null ? p : (tf.mul(p, scale) as tf.Tensor2D), withBias),
  };
}

/**
 * `p * |g| / (|p| + 1e-16)`: the direction of `p` with the step length of `g` (in a tidy);
 * `gSquaredNorm` is `|g|^2` when already known.
 */
export function graftToNorm(p: tf.Tensor, g: tf.Tensor, gSquaredNorm?: tf.Scalar): tf.Tensor {
  const gNorm = gSquaredNorm != null ? tf.sqrt(gSquaredNorm) : frobenius(g);
  return tf.mul(p, tf.div(gNorm, tf.add(frobenius(p), 1e-16)));
}
