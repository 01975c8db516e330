/**
 * FOOF (Benzing 2022): only the input factor, `P = G (A + gamma I)^-1`, in tfjs layout
 * `P = (A + gamma I)^-1 Gt`, normalised like Eva-f.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { activationFactor } from '../capture/statistics.js';
import type { StatisticFunctions } from '../capture/model-capture.js';
import { dampedInverse } from '../linalg/spd-inverse.js';
import type { LayerwiseAlgorithm } from '../optimizer/algorithm.js';
import type { AssertDeclared } from '../optimizer/options.js';
import { registerWrappedOptimizer } from '../optimizer/serialization.js';
import {
  WrappingOptimizer,
  type LAYERWISE_OPTIONS,
  type WRAPPING_OPTIONS,
} from '../optimizer/wrapping-optimizer.js';
import { FactorState } from './factor-state.js';
import { checkInverseWorker, type FactorOptions } from './kfac.js';
import { augmentedIn, layerMatrix, matrixDirection } from './layer-math.js';
import {
  CURVATURE_OPTIONS,
  FACTOR_INVERSE_OPTIONS,
  KL_NORMALIZE_OPTION,
} from './shared-options.js';

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

/** Options of {@link FOOF}. */
export interface FOOFOptions extends FactorOptions {
  /** KL normalisation `P / sqrt(sum P . G)` like Eva-f (default true). */
  klNormalize?: boolean;
}

const OPTIONS = { ...CURVATURE_OPTIONS, ...FACTOR_INVERSE_OPTIONS, ...KL_NORMALIZE_OPTION };
const declared: AssertDeclared<
  FOOFOptions,
  typeof WRAPPING_OPTIONS & typeof LAYERWISE_OPTIONS & typeof OPTIONS
> = true;
void declared;

/** FOOF as an algorithm of the step pipeline: the input factor and its damped inverse. */
export const foofAlgorithm: LayerwiseAlgorithm<typeof OPTIONS, FactorState> = {
  kind: 'layerwise',
  name: 'FOOF',
  options: OPTIONS,
  statistics: foofStatistics,
  scaling: 'klNormalize',
  inverseInterval: 'invUpdateFreq',
  createState(layers, options) {
    checkInverseWorker('FOOF', options);
    return new FactorState(
      'FOOF',
      'foof',
      layers,
      {
        A: (l) => [augmentedIn(l), augmentedIn(l)],
        inverseA: (l) => [augmentedIn(l), augmentedIn(l)],
      },
      [{ factor: 'A', inverse: 'inverseA' }],
      options.inverseWorker,
    );
  },
  updateStatistics(state, layer, statistics, { factorDecay }) {
    state.average('A', layer, statistics.activation, factorDecay);
  },
  updateInverses(state, layer, { damping, linalg }) {
    const a = state.get('A', layer) as tf.Tensor2D | null;
    if (a == null) return false;
    state.set('inverseA', layer, dampedInverse(a, damping, linalg));
    return true;
  },
  refreshInverses(state, _layers, { damping }) {
    return state.deferred?.refresh(() => state.deferred!.entries.map(() => damping)) ?? null;
  },
  isReady: (state, layer) => state.get('inverseA', layer) != null,
  precondition(state, layer, gradient) {
    const gt = layerMatrix(layer.geometry, gradient);
    const p = foofApply(gt, state.get('inverseA', layer) as tf.Tensor2D);
    return matrixDirection(layer.geometry, gt, p, gradient.bias != null);
  },
};

/**
 * FOOF: per Dense/Conv2D layer the input factor `A` only, `P = G (A + gamma I)^-1` with the
 * inverse refreshed every `invUpdateFreq` steps, then KL normalisation.
 */
export class FOOF extends WrappingOptimizer<FactorState> {
  static className = 'FOOF';

  /**
   * @param model the model whose Dense/Conv2D layers are preconditioned (must be built)
   * @param base the tfjs optimizer that applies the update, e.g. `tf.train.momentum(0.1, 0.9)`
   * @param options see {@link FOOFOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: FOOFOptions = {}) {
    super(model, base, options, foofAlgorithm);
  }
}

registerWrappedOptimizer(FOOF);
