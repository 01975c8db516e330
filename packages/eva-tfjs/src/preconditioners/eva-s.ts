/**
 * Eva-s (paper Eq. 23), the vectorized Shampoo: for a gradient tensor `G` of order k >= 2, one
 * vector per axis, `v_i` = mean of `G` over every other axis (accumulated over steps), and
 * `P = G - <G, v> v / (gamma + prod |v_i|^2)` with `v = v_1 o ... o v_k` (Sherman-Morrison of
 * `v v^T + gamma I` without the irrelevant `1 / gamma`), grafted to the gradient's norm.
 * Nothing of the size of a Kronecker factor is formed: `<G, v>` contracts one axis at a time and
 * the outer product has the size of `G`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { frobenius } from '../linalg/norms.js';

/** The per-axis means of `g` (call inside a tidy). */
export function axisMeans(g: tf.Tensor): tf.Tensor1D[] {
  return g.shape.map((_, axis) => {
    const others = g.shape.map((__, i) => i).filter((i) => i !== axis);
    return tf.mean(g, others) as tf.Tensor1D;
  });
}

/** `v_1 o ... o v_k` with the shape `[len(v_1), ..., len(v_k)]` (call inside a tidy). */
export function outerProduct(vectors: tf.Tensor1D[]): tf.Tensor {
  let product: tf.Tensor = vectors[0]!;
  for (const v of vectors.slice(1)) {
    product = tf.mul(tf.reshape(product, [-1, 1]), tf.reshape(v, [1, -1]));
  }
  return tf.reshape(
    product,
    vectors.map((v) => v.shape[0]),
  );
}

/** `<G, v_1 o ... o v_k>`, contracting the last axis first (call inside a tidy). */
export function contract(g: tf.Tensor, vectors: tf.Tensor1D[]): tf.Scalar {
  let t: tf.Tensor = g;
  for (let axis = vectors.length - 1; axis >= 0; axis--) {
    const v = vectors[axis]!;
    t = tf.matMul(tf.reshape(t, [-1, v.shape[0]]), tf.reshape(v, [-1, 1]));
  }
  return tf.reshape(t, []) as tf.Scalar;
}

/** The Eva-s direction of one tensor before grafting (call inside a tidy). */
export function evaSDirection(g: tf.Tensor, vectors: tf.Tensor1D[], damping: number): tf.Tensor {
  const v = outerProduct(vectors);
  const norms = vectors.map((x) => tf.sum(tf.square(x)));
  const squaredNorm = norms.reduce((p, n) => tf.mul(p, n));
  const coefficient = tf.div(contract(g, vectors), tf.add(squaredNorm, damping));
  return tf.sub(g, tf.mul(v, coefficient));
}

/** `p * |g| / (|p| + 1e-16)`: the direction of `p` with the step length of `g` (in a tidy). */
export function graftToNorm(p: tf.Tensor, g: tf.Tensor): tf.Tensor {
  return tf.mul(p, tf.div(frobenius(g), tf.add(frobenius(p), 1e-16)));
}
