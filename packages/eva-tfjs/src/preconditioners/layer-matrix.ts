/**
 * A Dense/Conv2D layer's gradient as one matrix in tfjs layout, `Gt = [kernel rows; bias row]`
 * of shape `[in (+1), out]` (the transpose of PyTorch's `[out, in+1]`; a Conv2D kernel
 * `[kh, kw, cin, cout]` becomes `[kh*kw*cin, cout]`), and back. When the layer has a bias that
 * is not being trained, the bias row is zero so the matrix still matches the bias-augmented
 * statistics; its preconditioned row is then dropped.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayerGeometry } from '../capture/layer-geometry.js';

/** The gradient matrix `[in (+1), out]` of a layer (call inside a tidy). */
export function layerMatrix(
  geometry: LayerGeometry,
  kernel: tf.Tensor,
  bias: tf.Tensor | null,
): tf.Tensor2D {
  const rows = tf.reshape(kernel, [geometry.inFeatures, geometry.outFeatures]) as tf.Tensor2D;
  if (!geometry.hasBias) return rows;
  const biasRow = bias == null ? tf.zeros([1, geometry.outFeatures]) : tf.reshape(bias, [1, -1]);
  return tf.concat([rows, biasRow as tf.Tensor2D], 0);
}

/** Splits a preconditioned `[in (+1), out]` matrix into kernel (original shape) and bias. */
export function splitLayerMatrix(
  geometry: LayerGeometry,
  matrix: tf.Tensor2D,
  kernelShape: number[],
): { kernel: tf.Tensor; bias: tf.Tensor1D | null } {
  if (!geometry.hasBias) return { kernel: tf.reshape(matrix, kernelShape), bias: null };
  const kernel = tf.slice(matrix, [0, 0], [geometry.inFeatures, geometry.outFeatures]);
  const bias = tf.reshape(tf.slice(matrix, [geometry.inFeatures, 0], [1, -1]), [-1]);
  return { kernel: tf.reshape(kernel, kernelShape), bias: bias as tf.Tensor1D };
}
