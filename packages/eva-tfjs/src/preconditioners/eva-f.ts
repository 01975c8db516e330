/**
 * Eva-f (paper Eq. 21), the vectorized FOOF: with `a` the running bias-augmented mean input of
 * a layer, FOOF's factor `A` is replaced by the rank-one `a a^T`, whose damped inverse is given by
 * Sherman-Morrison: in tfjs layout `P = (Gt - a r^T) / gamma` with
 * `r = Gt^T a / (gamma + a^T a)`. The final `/ gamma` is the paper's; the authors' code leaves it
 * out (`divideByDamping: false`).
 *
 * Like Eva, the kernel and bias parts are handled separately (no concatenated matrix) and the
 * KL-normalisation sum is analytic: `P . Gt = (|Gt|^2 - |Gt^T a|^2 / (gamma + a^T a)) / gamma`,
 * so P is formed once, already scaled.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { activationMean } from '../capture/statistics.js';
import type { StatisticFunctions } from '../capture/model-capture.js';
import type { LayerwiseAlgorithm } from '../optimizer/algorithm.js';
import { defineOptions, type AssertDeclared, type Hyperparameter } from '../optimizer/options.js';
import { registerWrappedOptimizer } from '../optimizer/serialization.js';
import { StateSlots } from '../optimizer/state-slots.js';
import {
  WrappingOptimizer,
  type LAYERWISE_OPTIONS,
  type LayerwiseOptions,
  type WRAPPING_OPTIONS,
} from '../optimizer/wrapping-optimizer.js';
import { augmentedIn, splitActivation, type LayerGradient } from './layer-math.js';
import { CURVATURE_OPTIONS, KL_NORMALIZE_OPTION } from './shared-options.js';

/** Eva-f's statistics: the batch-mean (bias-augmented) input; no gradient statistic. */
export const evaFStatistics: StatisticFunctions = {
  activation: activationMean,
  gradient: () => tf.zeros([0]),
  gradientDegree: 0,
};

/** The vectors and scalars of one layer's Eva-f update. */
export interface EvaFTerms {
  /** `r = Gt^T a / (gamma + a^T a)`, `[out]`. */
  r: tf.Tensor1D;
  /** `P . Gt` of the unscaled P (with `/ gamma` when dividing by the damping). */
  klSize: tf.Scalar;
}

/** Computes `r` and `P . Gt` for one layer (call inside a tidy). */
export function evaFTerms(
  grad: LayerGradient,
  a: tf.Tensor1D,
  damping: number,
  divideByDamping: boolean,
): EvaFTerms {
  const { weight: aw, bias: ab } = splitActivation(a, grad);
  // Gt^T a with the vector as the product's right operand: a one-row product a^T Gt would make
  // wasm's XNNPACK matmul pack the fresh gradient as weights first (3-4x slower).
  let gta: tf.Tensor = tf.reshape(tf.matMul(grad.kernel, tf.reshape(aw, [-1, 1]), true), [-1]);
  let gradientSquaredNorm: tf.Tensor = grad.squaredNorm ?? tf.sum(tf.square(grad.kernel));
  let aa: tf.Tensor = tf.sum(tf.square(aw));
  if (grad.bias != null && ab != null) {
    gta = tf.add(gta, tf.mul(grad.bias, ab));
    if (grad.squaredNorm == null) {
      gradientSquaredNorm = tf.add(gradientSquaredNorm, tf.sum(tf.square(grad.bias)));
    }
    aa = tf.add(aa, tf.square(ab));
  }
  const denominator = tf.add(aa, damping);
  const projected = tf.div(tf.sum(tf.square(gta)), denominator);
  const klSize = tf.sub(gradientSquaredNorm, projected);
  return {
    r: tf.div(gta, denominator) as tf.Tensor1D,
    klSize: (divideByDamping ? tf.div(klSize, damping) : klSize) as tf.Scalar,
  };
}

/** `scale * P` of Eq. 21, split into kernel `[in, out]` and bias (call inside a tidy). */
export function evaFApply(
  grad: LayerGradient,
  a: tf.Tensor1D,
  terms: EvaFTerms,
  damping: number,
  divideByDamping: boolean,
  scale: tf.Scalar | null,
): LayerGradient {
  const { weight: aw, bias: ab } = splitActivation(a, grad);
  const unit = scale ?? tf.scalar(1);
  const factor = divideByDamping ? tf.div(unit, damping) : unit;
  const scaledR = tf.mul(terms.r, factor);
  const kernel = tf.sub(
    tf.mul(grad.kernel, factor),
    tf.mul(tf.reshape(aw, [-1, 1]), tf.reshape(scaledR, [1, -1])),
  ) as tf.Tensor2D;
  const bias =
    grad.bias != null && ab != null
      ? (tf.sub(tf.mul(grad.bias, factor), tf.mul(scaledR, ab)) as tf.Tensor1D)
      : null;
  return { kernel, bias };
}

/** Options of {@link EvaF}. */
export interface EvaFOptions extends LayerwiseOptions {
  /** Damping gamma (default 0.03). */
  damping?: Hyperparameter;
  /** Running-average weight of new statistics, in (0, 1] (default 0.95). */
  factorDecay?: Hyperparameter;
  /** KL normalisation `P / sqrt(sum P . G)` (default true). */
  klNormalize?: boolean;
  /** Divide by gamma as in the paper's Eq. 21 (default true; the authors' code does not). */
  divideByDamping?: boolean;
}

const OPTIONS = {
  ...CURVATURE_OPTIONS,
  ...KL_NORMALIZE_OPTION,
  ...defineOptions({
    divideByDamping: {
      kind: 'boolean',
      default: true,
      description: "divide by gamma as in the paper's Eq. 21 (the authors' code does not)",
    },
  }),
};
const declared: AssertDeclared<
  EvaFOptions,
  typeof WRAPPING_OPTIONS & typeof LAYERWISE_OPTIONS & typeof OPTIONS
> = true;
void declared;

/** Eva-f as an algorithm of the step pipeline: one running vector per layer. */
export const evaFAlgorithm: LayerwiseAlgorithm<typeof OPTIONS, StateSlots> = {
  kind: 'layerwise',
  name: 'EvaF',
  options: OPTIONS,
  statistics: evaFStatistics,
  scaling: 'klNormalize',
  createState: (layers) => new StateSlots('EvaF', 'evaf', layers, { a: (l) => [augmentedIn(l)] }),
  updateStatistics(state, layer, statistics, { factorDecay }) {
    state.average('a', layer, statistics.activation, factorDecay);
  },
  isReady: (state, layer) => state.get('a', layer) != null,
  precondition(state, layer, gradient, { damping, divideByDamping }) {
    const a = state.get('a', layer) as tf.Tensor1D;
    const terms = evaFTerms(gradient, a, damping, divideByDamping);
    const unavailable = () => {
      throw new Error('EvaF: only KL normalisation is defined');
    };
    return {
      dotGradient: () => terms.klSize,
      squaredNorm: unavailable,
      gradientSquaredNorm: unavailable,
      scaled: (scale) => evaFApply(gradient, a, terms, damping, divideByDamping, scale),
    };
  },
};

/**
 * Eva-f: FOOF's input factor replaced by the running mean input `a` of each Dense/Conv2D layer,
 * inverted by Sherman-Morrison (O(d) state and work per layer), then KL-normalised.
 */
export class EvaF extends WrappingOptimizer<StateSlots> {
  static className = 'EvaF';

  /**
   * @param model the model whose Dense/Conv2D layers are preconditioned (must be built)
   * @param base the tfjs optimizer that applies the update, e.g. `tf.train.momentum(0.1, 0.9)`
   * @param options see {@link EvaFOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: EvaFOptions = {}) {
    super(model, base, options, evaFAlgorithm);
  }
}

registerWrappedOptimizer(EvaF);
