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
import type * as tfl from '@tensorflow/tfjs-layers';
import { activationMean, gradientMean } from '../capture/statistics.js';
import type { StatisticFunctions } from '../capture/model-capture.js';
import type { LayerwiseAlgorithm } from '../optimizer/algorithm.js';
import type { AssertDeclared } from '../optimizer/options.js';
import { registerWrappedOptimizer } from '../optimizer/serialization.js';
import { StateSlots } from '../optimizer/state-slots.js';
import {
  WrappingOptimizer,
  type LAYERWISE_OPTIONS,
  type LayerwiseOptions,
  type WRAPPING_OPTIONS,
} from '../optimizer/wrapping-optimizer.js';
import { augmentedIn, splitActivation, type LayerGradient } from './layer-math.js';
import { CURVATURE_OPTIONS, KL_CLIP_OPTION } from './shared-options.js';
import type { Hyperparameter } from '../optimizer/options.js';

/** Eva's statistics: batch-mean activation (bias-augmented) and pre-activation gradient. */
export const evaStatistics: StatisticFunctions = {
  activation: activationMean,
  gradient: gradientMean,
  gradientDegree: 1,
};

/** The scalars of one layer's Eva update (and the pieces of `a` the update reuses). */
export interface EvaTerms {
  /** `c = a^T Gt g / (|a|^2 |g|^2 + gamma)`. */
  coefficient: tf.Scalar;
  /** `a^T Gt g`. */
  aGg: tf.Scalar;
  /** `|Gt|^2`. */
  gradientSquaredNorm: tf.Scalar;
  /** `|a|^2 |g|^2`. */
  vectorSquaredNorms: tf.Scalar;
  /** The kernel part of `a` as a column `[in, 1]`. */
  aColumn: tf.Tensor2D;
  /** The bias element of `a`; null when the layer has no bias gradient. */
  aBias: tf.Scalar | null;
}

/**
 * Computes the scalars of Eva's update for one layer (call inside a tidy). Written for few
 * kernel launches: at small batches a step's fixed cost is mostly launches of tiny ops.
 */
export function evaTerms(
  grad: LayerGradient,
  a: tf.Tensor1D,
  g: tf.Tensor1D,
  damping: number,
): EvaTerms {
  const { weight: aw, bias: ab } = splitActivation(a, grad);
  const aColumn = tf.reshape(aw, [-1, 1]) as tf.Tensor2D;
  // a^T Gt g as a^T (Gt g): the product's right operand is the vector g. The other order,
  // (a^T Gt) g, makes the fresh gradient the right operand of a one-row product, which wasm's
  // XNNPACK matmul first packs as weights: 10-20x the cost of this one-column product.
  const gColumn = tf.reshape(g, [-1, 1]);
  let aGg: tf.Tensor = tf.sum(tf.mul(aColumn, tf.matMul(grad.kernel, gColumn)));
  let gradientSquaredNorm: tf.Tensor = grad.squaredNorm ?? tf.sum(tf.square(grad.kernel));
  if (grad.bias != null && ab != null) {
    aGg = tf.add(aGg, tf.mul(tf.sum(tf.mul(grad.bias, g)), ab));
    if (grad.squaredNorm == null) {
      gradientSquaredNorm = tf.add(gradientSquaredNorm, tf.sum(tf.square(grad.bias)));
    }
  }
  // |a|^2 over the entries in use: all of `a` with a bias gradient, its kernel part without.
  const aa = tf.sum(tf.square(grad.bias != null && ab != null ? a : aw));
  const vectorSquaredNorms = tf.mul(aa, tf.sum(tf.square(g)));
  return {
    coefficient: tf.div(aGg, tf.add(vectorSquaredNorms, damping)) as tf.Scalar,
    aGg: aGg as tf.Scalar,
    gradientSquaredNorm: gradientSquaredNorm as tf.Scalar,
    vectorSquaredNorms: vectorSquaredNorms as tf.Scalar,
    aColumn,
    aBias: ab,
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
 * (`[in, out]`) and bias; `scale` is the KL-clipping factor (null: 1). Three passes over the
 * kernel: its scaling, the rank-one term and their difference.
 */
export function evaApply(
  grad: LayerGradient,
  g: tf.Tensor1D,
  terms: EvaTerms,
  damping: number,
  scale: tf.Scalar | null,
): LayerGradient {
  const gradScale = scale == null ? tf.scalar(1 / damping) : tf.div(scale, damping);
  const h = tf.mul(g, tf.mul(gradScale, terms.coefficient));
  const kernel = tf.sub(
    tf.mul(grad.kernel, gradScale),
    tf.mul(terms.aColumn, tf.reshape(h, [1, -1])),
  ) as tf.Tensor2D;
  const bias =
    grad.bias != null && terms.aBias != null
      ? (tf.sub(tf.mul(grad.bias, gradScale), tf.mul(h, terms.aBias)) as tf.Tensor1D)
      : null;
  return { kernel, bias };
}

/** Options of {@link Eva}; defaults are the reference implementation's. */
export interface EvaOptions extends LayerwiseOptions {
  /** Damping gamma (default 0.03). */
  damping?: Hyperparameter;
  /** Running-average weight of new statistics, in (0, 1] (default 0.95). */
  factorDecay?: Hyperparameter;
  /**
   * KL-clipping threshold (default 0.001); `0` rescales the preconditioned gradient to the
   * gradient's norm; `null` disables clipping.
   */
  klClip?: Hyperparameter | null;
}

const OPTIONS = { ...CURVATURE_OPTIONS, ...KL_CLIP_OPTION };
const declared: AssertDeclared<
  EvaOptions,
  typeof WRAPPING_OPTIONS & typeof LAYERWISE_OPTIONS & typeof OPTIONS
> = true;
void declared;

/** Eva as an algorithm of the step pipeline: two running vectors per layer. */
export const evaAlgorithm: LayerwiseAlgorithm<typeof OPTIONS, StateSlots> = {
  kind: 'layerwise',
  name: 'Eva',
  options: OPTIONS,
  statistics: evaStatistics,
  scaling: 'klClip',
  createState: (layers) =>
    new StateSlots('Eva', 'eva', layers, {
      a: (l) => [augmentedIn(l)],
      g: (l) => [l.geometry.outFeatures],
    }),
  updateStatistics(state, layer, statistics, { factorDecay }) {
    state.average('a', layer, statistics.activation, factorDecay);
    state.average('g', layer, statistics.gradient, factorDecay);
  },
  isReady: (state, layer) => state.get('a', layer) != null,
  precondition(state, layer, gradient, { damping }) {
    const a = state.get('a', layer) as tf.Tensor1D;
    const g = state.get('g', layer) as tf.Tensor1D;
    const terms = evaTerms(gradient, a, g, damping);
    return {
      dotGradient: () => evaKlSize(terms, damping),
      squaredNorm: () => evaSquaredNorm(terms, damping),
      gradientSquaredNorm: () => terms.gradientSquaredNorm,
      scaled: (scale) => evaApply(gradient, g, terms, damping, scale),
    };
  },
};

/** The running Kronecker vectors of one layer. */
export interface KroneckerVectors {
  /** Bias-augmented mean input activation, `[in (+1)]`. */
  a: tf.Tensor1D;
  /** Mean pre-activation output gradient, `[out]`. */
  g: tf.Tensor1D;
}

/**
 * Eva (Zhang, Shi & Li): preconditions every Dense/Conv2D gradient with the Sherman-Morrison
 * inverse of `(g g^T) (x) (a a^T) + damping I` built from two running vectors per layer, applies
 * KL clipping with the base optimizer's current learning rate, adds weight decay, and lets the
 * base optimizer apply the result. Other parameters get their plain gradient plus weight decay.
 *
 * ```ts
 * const opt = new Eva(model, tf.train.momentum(0.1, 0.9), { weightDecay: 5e-4 });
 * model.compile({ optimizer: opt, loss: 'meanSquaredError' });
 * ```
 */
export class Eva extends WrappingOptimizer<StateSlots> {
  static className = 'Eva';

  /**
   * @param model the model whose Dense/Conv2D layers are preconditioned (must be built)
   * @param base the tfjs optimizer that applies the update, e.g. `tf.train.momentum(0.1, 0.9)`
   * @param options see {@link EvaOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: EvaOptions = {}) {
    super(model, base, options, evaAlgorithm);
  }

  /** The running vectors of every captured layer (null before its first capture), by path. */
  kroneckerVectors(): Map<string, KroneckerVectors | null> {
    return new Map(
      this.layers.map((layer) => {
        const a = this.state.get('a', layer);
        const g = this.state.get('g', layer);
        return [
          layer.path,
          a != null && g != null ? { a: a as tf.Tensor1D, g: g as tf.Tensor1D } : null,
        ];
      }),
    );
  }
}

registerWrappedOptimizer(Eva);
