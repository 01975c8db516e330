/**
 * Eva-s (paper Eq. 23), the vectorized Shampoo: for a gradient tensor `G` of order k >= 2, one
 * vector per axis, `v_i` = mean of `G` over every other axis (accumulated over steps), and
 * `P = G - <G, v> v / (gamma + prod |v_i|^2)` with `v = v_1 o ... o v_k` (Sherman-Morrison of
 * `v v^T + gamma I` without the irrelevant `1 / gamma`), grafted to the gradient's norm.
 * Nothing of the size of a Kronecker factor is formed: `<G, v>` contracts one axis at a time and
 * the outer product has the size of `G`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { TensorwiseAlgorithm } from '../optimizer/algorithm.js';
import type { ModelVariable } from '../optimizer/model-variables.js';
import {
  defineOptions,
  positive,
  unitInterval,
  type AssertDeclared,
  type Hyperparameter,
} from '../optimizer/options.js';
import { registerWrappedOptimizer } from '../optimizer/serialization.js';
import { StateSlots, type SlotShapes } from '../optimizer/state-slots.js';
import {
  WrappingOptimizer,
  type WRAPPING_OPTIONS,
  type WrappingOptions,
} from '../optimizer/wrapping-optimizer.js';

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

/**
 * The Eva-s direction of one tensor before grafting (call inside a tidy). Two passes of the
 * tensor's size: the coefficient scales the first vector before the outer product is formed.
 */
export function evaSDirection(g: tf.Tensor, vectors: tf.Tensor1D[], damping: number): tf.Tensor {
  const norms = vectors.map((x) => tf.sum(tf.square(x)));
  const squaredNorm = norms.reduce((p, n) => tf.mul(p, n));
  const coefficient = tf.div(contract(g, vectors), tf.add(squaredNorm, damping));
  const scaled = [tf.mul(vectors[0]!, coefficient) as tf.Tensor1D, ...vectors.slice(1)];
  return tf.sub(g, outerProduct(scaled));
}

/** Options of {@link EvaS}. */
export interface EvaSOptions extends WrappingOptions {
  /** Damping gamma (default 0.03). */
  damping?: Hyperparameter;
  /** Statistics decay: 1 (default) keeps a running sum, < 1 an exponential average. */
  beta2?: number;
}

const OPTIONS = defineOptions({
  damping: { kind: 'schedule', default: 0.03, constraint: positive, description: 'damping gamma' },
  beta2: {
    kind: 'number',
    default: 1,
    constraint: unitInterval,
    description: 'statistics decay (1: running sum; < 1: exponential average)',
  },
});
const declared: AssertDeclared<EvaSOptions, typeof WRAPPING_OPTIONS & typeof OPTIONS> = true;
void declared;

/** Parameter tensors of higher order than this are rejected (a clear error, not a silent skip). */
const MAX_ORDER = 8;

/** Eva-s as an algorithm of the step pipeline: one accumulated mean vector per tensor axis. */
export const evaSAlgorithm: TensorwiseAlgorithm<typeof OPTIONS, StateSlots<ModelVariable>> = {
  kind: 'tensorwise',
  name: 'EvaS',
  options: OPTIONS,
  grafting: 'sgd',
  createState(variables) {
    const shapes: SlotShapes<ModelVariable> = {};
    for (let axis = 0; axis < MAX_ORDER; axis++) {
      shapes[`v${axis}`] = (v) =>
        v.shape.length >= 2 && axis < v.shape.length ? [v.shape[axis]!] : null;
    }
    for (const v of variables) {
      if (v.shape.length > MAX_ORDER) {
        throw new Error(`EvaS: parameter '${v.path}' has order ${v.shape.length} > ${MAX_ORDER}`);
      }
    }
    return new StateSlots('EvaS', 'evas', variables, shapes);
  },
  updateStatistics(state, gradients, { beta2 }) {
    let updated = false;
    for (const entry of gradients) {
      if (entry.gradient.rank < 2) continue;
      const means = tf.tidy(() => axisMeans(entry.gradient));
      means.forEach((mean, axis) => {
        state.accumulate(`v${axis}`, entry.modelVariable, mean, beta2);
        mean.dispose();
      });
      updated = true;
    }
    return updated;
  },
  transform(state, gradients, { damping }) {
    const result = new Map<string, tf.Tensor>();
    for (const entry of gradients) {
      if (entry.gradient.rank < 2) continue;
      const vectors = entry.gradient.shape.map(
        (_, axis) => state.get(`v${axis}`, entry.modelVariable) as tf.Tensor1D,
      );
      // One tidy per tensor: only its direction outlives it (lower peak memory of a step).
      result.set(
        entry.name,
        tf.tidy(() => evaSDirection(entry.gradient, vectors, damping)),
      );
    }
    return result;
  },
};

/**
 * Eva-s: every parameter tensor of order >= 2 (Dense and Conv2D kernels, and any other) is
 * preconditioned with one accumulated mean vector per axis and grafted to its gradient's norm;
 * biases and other vectors keep their gradient. Not limited to Dense/Conv2D layers, like Shampoo.
 */
export class EvaS extends WrappingOptimizer<StateSlots<ModelVariable>> {
  static className = 'EvaS';

  /**
   * @param model the model whose parameters are optimized
   * @param base the tfjs optimizer that applies the update, e.g.
   *   `tf.train.momentum(0.1, 0.9, true)` (Nesterov, the reference's choice); the authors' runs
   *   updated the Nesterov buffer in place, as
   *   `new SGD({ learningRate, momentum: 0.9, nesterov: true, nesterovVariant: 'reference' })`
   *   does (by name: `nesterovVariant: 'reference'`)
   * @param options see {@link EvaSOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: EvaSOptions = {}) {
    super(model, base, options, evaSAlgorithm);
  }
}

registerWrappedOptimizer(EvaS);
