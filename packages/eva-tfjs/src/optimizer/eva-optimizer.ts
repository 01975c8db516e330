/**
 * `Eva`: the Kronecker-vectorized second-order optimizer of the paper, as a `tf.Optimizer`
 * wrapping a tfjs base optimizer.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { CapturedLayer, CapturedStatistics } from '../capture/model-capture.js';
import {
  evaApply,
  evaKlSize,
  evaSquaredNorm,
  evaStatistics,
  evaTerms,
  type EvaTerms,
} from '../preconditioners/eva.js';
import { klClipScale } from '../preconditioners/kl-clip.js';
import { augmentedIn, StateSlots } from './state-slots.js';
import {
  curvatureOptions,
  klClipOption,
  rejectUnknownOptions,
  resolveCurvature,
  resolveKlClip,
  type CurvatureHyperparameters,
  type Hyperparameter,
} from './hyperparameter.js';
import {
  layerGradient,
  layerUpdates,
  PRECONDITIONED_OPTION_NAMES,
  PreconditionedOptimizer,
  type LayerGradients,
  type PreconditionedOptions,
} from './preconditioned-optimizer.js';
import { registerWrappedOptimizer } from './serialization.js';

/** Options of {@link Eva}; defaults are the reference implementation's. */
export interface EvaOptions extends PreconditionedOptions {
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

const EVA_OPTION_NAMES = [...PRECONDITIONED_OPTION_NAMES, 'damping', 'factorDecay', 'klClip'];

/** Eva's hyper-parameters resolved for one step. */
interface EvaStep {
  damping: number;
  factorDecay: number;
  klClip: number | null;
}

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
export class Eva extends PreconditionedOptimizer<EvaStep> {
  static className = 'Eva';
  /** Every option name the constructor accepts. */
  static readonly optionNames: readonly string[] = EVA_OPTION_NAMES;
  private readonly curvature: CurvatureHyperparameters;
  private readonly klClip: Hyperparameter | null;
  protected readonly state: StateSlots;

  /**
   * @param model the model whose Dense/Conv2D layers are preconditioned (must be built)
   * @param base the tfjs optimizer that applies the update, e.g. `tf.train.momentum(0.1, 0.9)`
   * @param options see {@link EvaOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: EvaOptions = {}) {
    rejectUnknownOptions('Eva', options, EVA_OPTION_NAMES);
    const curvature = curvatureOptions(options);
    const klClip = klClipOption(options.klClip);
    super(model, base, options, evaStatistics);
    this.curvature = curvature;
    this.klClip = klClip;
    this.state = new StateSlots('Eva', 'eva', this.layers, {
      a: (l) => [augmentedIn(l)],
      g: (l) => [l.geometry.outFeatures],
    });
  }

  override getClassName(): string {
    return Eva.className;
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

  protected resolveStep(step: number): EvaStep {
    return { ...resolveCurvature(this.curvature, step), klClip: resolveKlClip(this.klClip, step) };
  }

  protected updateStatistics(
    layer: CapturedLayer,
    statistics: CapturedStatistics,
    { factorDecay }: EvaStep,
  ): void {
    this.state.average('a', layer, statistics.activation, factorDecay);
    this.state.average('g', layer, statistics.gradient, factorDecay);
  }

  protected isReady(layer: CapturedLayer): boolean {
    return this.state.get('a', layer) != null;
  }

  protected preconditionLayers(
    layers: LayerGradients[],
    { damping, klClip }: EvaStep,
  ): Map<string, tf.Tensor> {
    const prepared = layers.map((gradients) => {
      const grad = layerGradient(gradients);
      const a = this.state.get('a', gradients.layer) as tf.Tensor1D;
      const g = this.state.get('g', gradients.layer) as tf.Tensor1D;
      return { gradients, grad, a, g, terms: evaTerms(grad, a, g, damping) };
    });
    const sum = (f: (t: EvaTerms) => tf.Scalar) =>
      tf.addN(prepared.map((p) => f(p.terms))) as tf.Scalar;
    const scale = klClipScale(
      {
        preconditionedDotGradient: sum((t) => evaKlSize(t, damping)),
        gradientSquaredNorm: sum((t) => t.gradientSquaredNorm),
        preconditionedSquaredNorm: sum((t) => evaSquaredNorm(t, damping)),
      },
      klClip == null ? 0 : this.learningRate,
      klClip,
    );
    return layerUpdates(
      prepared.map((p) => ({
        gradients: p.gradients,
        out: evaApply(p.grad, p.a, p.g, p.terms, damping, scale),
      })),
    );
  }
}

registerWrappedOptimizer(Eva);
