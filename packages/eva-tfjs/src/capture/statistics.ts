/**
 * The statistics a preconditioner can take from a captured layer: per-sample rows or batch
 * means of the (bias-augmented) input activations and of the pre-activation output gradients.
 * All functions are pure tf ops (any backend, no host reads).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Conv2DGeometry, LayerGeometry } from './layer-geometry.js';

/** Output size and TF-style padding (extra row/column at the bottom/right) of one conv axis. */
export function convAxis(
  size: number,
  kernel: number,
  stride: number,
  padding: 'same' | 'valid',
): { out: number; before: number; after: number } {
  if (padding === 'valid') {
    return { out: Math.ceil((size - kernel + 1) / stride), before: 0, after: 0 };
  }
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  const before = Math.floor(total / 2);
  return { out, before, after: total - before };
}

/**
 * Per-sample mean of the im2col patches of a channels-last input `x` `[n, H, W, C]`:
 * `[n, kh * kw * C]` in `(kh, kw, C)` order, the layout of a reshaped tfjs Conv2D kernel.
 * The patches are never materialised: channels go to the batch axis and one convolution with
 * an all-ones `[OH, OW]` filter dilated by the stride sums every kernel offset over all output
 * positions; the first `kh x kw` outputs are those sums.
 */
export function meanPatches(x: tf.Tensor4D, geometry: Conv2DGeometry): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const [kh, kw] = geometry.kernelSize;
    const [sh, sw] = geometry.strides;
    const rows = convAxis(h, kh, sh, geometry.padding);
    const cols = convAxis(w, kw, sw, geometry.padding);
    const padded = tf.pad(x, [
      [0, 0],
      [rows.before, rows.after],
      [cols.before, cols.after],
      [0, 0],
    ]);
    const [, hp, wp] = padded.shape;
    const perChannel = tf.reshape(tf.transpose(padded, [0, 3, 1, 2]), [n * c, hp, wp, 1]);
    const ones = tf.ones([rows.out, cols.out, 1, 1]);
    const sums = tf.conv2d(perChannel as tf.Tensor4D, ones as tf.Tensor4D, 1, 'valid', 'NHWC', [
      sh,
      sw,
    ]);
    const offsets = tf.slice(sums, [0, 0, 0, 0], [n * c, kh, kw, 1]);
    const ordered = tf.transpose(tf.reshape(offsets, [n, c, kh, kw]), [0, 2, 3, 1]);
    return tf.div(tf.reshape(ordered, [n, kh * kw * c]), rows.out * cols.out) as tf.Tensor2D;
  });
}

function appendOnes(rows: tf.Tensor2D): tf.Tensor2D {
  return tf.concat([rows, tf.ones([rows.shape[0], 1])], 1);
}

/**
 * Activation rows of a layer input `x` (first axis = samples): Dense inputs of rank > 2 give
 * one row per position of the leading axes; Conv2D gives one mean patch per sample. A column
 * of ones is appended when the layer has a bias. Shape `[rows, inFeatures (+1)]`.
 */
export function activationRows(x: tf.Tensor, geometry: LayerGeometry): tf.Tensor2D {
  return tf.tidy(() => {
    const rows =
      geometry.kind === 'dense'
        ? tf.reshape(x, [-1, geometry.inFeatures])
        : meanPatches(x as tf.Tensor4D, geometry);
    return geometry.hasBias ? appendOnes(rows as tf.Tensor2D) : (rows as tf.Tensor2D);
  });
}

/**
 * Mean activation vector `a` (bias-augmented) of a layer input, as the reference computes it:
 * Dense averages every leading axis; Conv2D extracts the patches of the batch-mean image and
 * averages them over output positions. Shape `[inFeatures (+1)]`.
 */
export function activationMean(x: tf.Tensor, geometry: LayerGeometry): tf.Tensor1D {
  return tf.tidy(() => {
    const input = geometry.kind === 'dense' ? x : tf.mean(x, 0, true);
    return tf.mean(activationRows(input, geometry), 0) as tf.Tensor1D;
  });
}

/**
 * Gradient rows of the pre-activation output gradient `dy`: Dense gives one row per position
 * of the leading axes, Conv2D the spatial mean per sample. Shape `[rows, outFeatures]`.
 */
export function gradientRows(dy: tf.Tensor, geometry: LayerGeometry): tf.Tensor2D {
  return tf.tidy(() =>
    geometry.kind === 'dense'
      ? (tf.reshape(dy, [-1, geometry.outFeatures]) as tf.Tensor2D)
      : (tf.mean(dy, [1, 2]) as tf.Tensor2D),
  );
}

/** Mean pre-activation gradient vector `g` (over samples and positions). Shape `[outFeatures]`. */
export function gradientMean(dy: tf.Tensor, geometry: LayerGeometry): tf.Tensor1D {
  return tf.tidy(() => tf.mean(tf.reshape(dy, [-1, geometry.outFeatures]), 0) as tf.Tensor1D);
}

/** `rows^T rows / n` (call inside a tidy). */
export function covariance(rows: tf.Tensor2D): tf.Tensor2D {
  return tf.div(tf.matMul(rows, rows, true, false), rows.shape[0]) as tf.Tensor2D;
}

/** The input factor `A = a^T a / n` of one capture (K-FAC, FOOF). */
export function activationFactor(x: tf.Tensor, geometry: LayerGeometry): tf.Tensor2D {
  return tf.tidy(() => covariance(activationRows(x, geometry)));
}

/** The gradient factor `Gf = g^T g / n` of one capture (K-FAC). */
export function gradientFactor(dy: tf.Tensor, geometry: LayerGeometry): tf.Tensor2D {
  return tf.tidy(() => covariance(gradientRows(dy, geometry)));
}
