/** `FOOF`: the input-factor-only preconditioner as a `tf.Optimizer` wrapping a base optimizer. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { CapturedLayer, CapturedStatistics } from '../capture/model-capture.js';
import { dampedInverse } from '../linalg/spd-inverse.js';
import { foofApply, foofStatistics } from '../preconditioners/foof.js';
import { checkBoolean, rejectUnknownOptions } from './hyperparameter.js';
import { augmentedIn } from './state-slots.js';
import {
  FACTOR_OPTION_NAMES,
  FactorOptimizer,
  type FactorOptions,
  type FactorStep,
} from './factor-optimizer.js';
import type { LayerGradients } from './preconditioned-optimizer.js';
import { registerWrappedOptimizer } from './serialization.js';

/** Options of {@link FOOF}. */
export interface FOOFOptions extends FactorOptions {
  /** KL normalisation `P / sqrt(sum P . G)` like Eva-f (default true). */
  klNormalize?: boolean;
}

/**
 * FOOF: per Dense/Conv2D layer the input factor `A` only, `P = G (A + gamma I)^-1` with the
 * inverse refreshed every `invUpdateFreq` steps, then KL normalisation.
 */
export class FOOF extends FactorOptimizer<FactorStep> {
  static className = 'FOOF';
  /** Every option name the constructor accepts. */
  static readonly optionNames: readonly string[] = [...FACTOR_OPTION_NAMES, 'klNormalize'];
  private readonly klNormalize: boolean;

  /**
   * @param model the model whose Dense/Conv2D layers are preconditioned (must be built)
   * @param base the tfjs optimizer that applies the update, e.g. `tf.train.momentum(0.1, 0.9)`
   * @param options see {@link FOOFOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: FOOFOptions = {}) {
    rejectUnknownOptions('FOOF', options, FOOF.optionNames);
    const klNormalize = checkBoolean('klNormalize', options.klNormalize ?? true);
    super(model, base, options, foofStatistics, 'FOOF', 'foof', {
      A: (l) => [augmentedIn(l), augmentedIn(l)],
      inverseA: (l) => [augmentedIn(l), augmentedIn(l)],
    });
    this.klNormalize = klNormalize;
  }

  override getClassName(): string {
    return FOOF.className;
  }

  protected resolveStep(step: number): FactorStep {
    return this.resolveFactorStep(step);
  }

  protected updateStatistics(
    layer: CapturedLayer,
    statistics: CapturedStatistics,
    { factorDecay }: FactorStep,
  ): void {
    this.state.average('A', layer, statistics.activation, factorDecay);
  }

  protected hasFactors(layer: CapturedLayer): boolean {
    return this.state.get('A', layer) != null;
  }

  protected isReady(layer: CapturedLayer): boolean {
    return this.state.get('inverseA', layer) != null;
  }

  protected updateInverses(layer: CapturedLayer, { damping }: FactorStep): void {
    const a = this.state.get('A', layer) as tf.Tensor2D;
    this.state.set('inverseA', layer, dampedInverse(a, damping, this.linalg));
  }

  protected preconditionLayers(layers: LayerGradients[]): Map<string, tf.Tensor> {
    const items = this.preconditionEach(layers, (gt, layer) =>
      foofApply(gt, this.state.get('inverseA', layer) as tf.Tensor2D),
    );
    return this.normalizedUpdates(items, this.klNormalize);
  }
}

registerWrappedOptimizer(FOOF);
