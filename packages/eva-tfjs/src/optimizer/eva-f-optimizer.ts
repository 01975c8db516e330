/**
 * `EvaF`: the vectorized FOOF of the paper (Eq. 21) as a `tf.Optimizer` wrapping a tfjs base
 * optimizer.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { CapturedLayer, CapturedStatistics } from '../capture/model-capture.js';
import { evaFApply, evaFStatistics, evaFTerms } from '../preconditioners/eva-f.js';
import { klNormalizationScale } from '../preconditioners/kl-clip.js';
import {
  checkBoolean,
  curvatureOptions,
  rejectUnknownOptions,
  resolveCurvature,
  type CurvatureHyperparameters,
  type Hyperparameter,
} from './hyperparameter.js';
import { augmentedIn, StateSlots } from './state-slots.js';
import {
  layerGradient,
  layerUpdates,
  PRECONDITIONED_OPTION_NAMES,
  PreconditionedOptimizer,
  type LayerGradients,
  type PreconditionedOptions,
} from './preconditioned-optimizer.js';
import { registerWrappedOptimizer } from './serialization.js';

/** Options of {@link EvaF}. */
export interface EvaFOptions extends PreconditionedOptions {
  /** Damping gamma (default 0.03). */
  damping?: Hyperparameter;
  /** Running-average weight of new statistics, in (0, 1] (default 0.95). */
  factorDecay?: Hyperparameter;
  /** KL normalisation `P / sqrt(sum P . G)` (default true). */
  klNormalize?: boolean;
  /** Divide by gamma as in the paper's Eq. 21 (default true; the authors' code does not). */
  divideByDamping?: boolean;
}

const EVA_F_OPTION_NAMES = [
  ...PRECONDITIONED_OPTION_NAMES,
  'damping',
  'factorDecay',
  'klNormalize',
  'divideByDamping',
];

interface EvaFStep {
  damping: number;
  factorDecay: number;
}

/**
 * Eva-f: FOOF's input factor replaced by the running mean input `a` of each Dense/Conv2D layer,
 * inverted by Sherman-Morrison (O(d) state and work per layer), then KL-normalised.
 */
export class EvaF extends PreconditionedOptimizer<EvaFStep> {
  static className = 'EvaF';
  /** Every option name the constructor accepts. */
  static readonly optionNames: readonly string[] = EVA_F_OPTION_NAMES;
  private readonly curvature: CurvatureHyperparameters;
  private readonly klNormalize: boolean;
  private readonly divideByDamping: boolean;
  protected readonly state: StateSlots;

  /**
   * @param model the model whose Dense/Conv2D layers are preconditioned (must be built)
   * @param base the tfjs optimizer that applies the update, e.g. `tf.train.momentum(0.1, 0.9)`
   * @param options see {@link EvaFOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: EvaFOptions = {}) {
    rejectUnknownOptions('EvaF', options, EVA_F_OPTION_NAMES);
    const curvature = curvatureOptions(options);
    super(model, base, options, evaFStatistics);
    this.curvature = curvature;
    this.klNormalize = checkBoolean('klNormalize', options.klNormalize ?? true);
    this.divideByDamping = checkBoolean('divideByDamping', options.divideByDamping ?? true);
    this.state = new StateSlots('EvaF', 'evaf', this.layers, { a: (l) => [augmentedIn(l)] });
  }

  override getClassName(): string {
    return EvaF.className;
  }

  protected resolveStep(step: number): EvaFStep {
    return resolveCurvature(this.curvature, step);
  }

  protected updateStatistics(
    layer: CapturedLayer,
    statistics: CapturedStatistics,
    { factorDecay }: EvaFStep,
  ): void {
    this.state.average('a', layer, statistics.activation, factorDecay);
  }

  protected isReady(layer: CapturedLayer): boolean {
    return this.state.get('a', layer) != null;
  }

  protected preconditionLayers(
    layers: LayerGradients[],
    { damping }: EvaFStep,
  ): Map<string, tf.Tensor> {
    const prepared = layers.map((gradients) => {
      const grad = layerGradient(gradients);
      const a = this.state.get('a', gradients.layer) as tf.Tensor1D;
      return { gradients, grad, a, terms: evaFTerms(grad, a, damping, this.divideByDamping) };
    });
    const scale = this.klNormalize
      ? klNormalizationScale(tf.addN(prepared.map((p) => p.terms.klSize)) as tf.Scalar)
      : tf.scalar(1);
    return layerUpdates(
      prepared.map((p) => ({
        gradients: p.gradients,
        out: evaFApply(p.grad, p.a, p.terms, damping, this.divideByDamping, scale),
      })),
    );
  }
}

registerWrappedOptimizer(EvaF);
