/** `KFAC`: Kronecker-factored approximate curvature as a `tf.Optimizer` wrapping a base optimizer. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { CapturedLayer, CapturedStatistics } from '../capture/model-capture.js';
import { dampedInverse } from '../linalg/spd-inverse.js';
import { dampingSplit, kfacApply, kfacStatistics, trace } from '../preconditioners/kfac.js';
import { klClipScale } from '../preconditioners/kl-clip.js';
import {
  klClipOption,
  rejectUnknownOptions,
  resolveKlClip,
  type Hyperparameter,
} from './hyperparameter.js';
import { augmentedIn } from './state-slots.js';
import {
  FACTOR_OPTION_NAMES,
  FactorOptimizer,
  type FactorOptions,
  type FactorStep,
} from './factor-optimizer.js';
import type { LayerGradients } from './preconditioned-optimizer.js';
import { registerWrappedOptimizer } from './serialization.js';

/** Options of {@link KFAC}; defaults are the reference implementation's. */
export interface KFACOptions extends FactorOptions {
  /**
   * KL-clipping threshold (default 0.001); `0` rescales to the gradient norm; `null` disables.
   */
  klClip?: Hyperparameter | null;
}

interface KFACStep extends FactorStep {
  klClip: number | null;
}

const outFeatures = (l: CapturedLayer) => l.geometry.outFeatures;

/**
 * K-FAC: per Dense/Conv2D layer the factors `A` (input, bias-augmented) and `Gf`
 * (pre-activation gradient) from the first `statsBatchSize` samples, running averages, damping
 * split with `pi`, inverses every `invUpdateFreq` steps, `P = Gf^-1 G A^-1`, KL clipping with
 * the base optimizer's learning rate.
 */
export class KFAC extends FactorOptimizer<KFACStep> {
  static className = 'KFAC';
  /** Every option name the constructor accepts. */
  static readonly optionNames: readonly string[] = [...FACTOR_OPTION_NAMES, 'klClip'];
  private readonly klClip: Hyperparameter | null;

  /**
   * @param model the model whose Dense/Conv2D layers are preconditioned (must be built)
   * @param base the tfjs optimizer that applies the update, e.g. `tf.train.momentum(0.1, 0.9)`
   * @param options see {@link KFACOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: KFACOptions = {}) {
    rejectUnknownOptions('KFAC', options, KFAC.optionNames);
    const klClip = klClipOption(options.klClip);
    super(model, base, options, kfacStatistics, 'KFAC', 'kfac', {
      A: (l) => [augmentedIn(l), augmentedIn(l)],
      G: (l) => [outFeatures(l), outFeatures(l)],
      inverseA: (l) => [augmentedIn(l), augmentedIn(l)],
      inverseG: (l) => [outFeatures(l), outFeatures(l)],
    });
    this.klClip = klClip;
  }

  override getClassName(): string {
    return KFAC.className;
  }

  protected resolveStep(step: number): KFACStep {
    return {
      ...this.resolveFactorStep(step),
      klClip: resolveKlClip(this.klClip, step),
    };
  }

  protected updateStatistics(
    layer: CapturedLayer,
    statistics: CapturedStatistics,
    { factorDecay }: KFACStep,
  ): void {
    this.state.average('A', layer, statistics.activation, factorDecay);
    this.state.average('G', layer, statistics.gradient, factorDecay);
  }

  protected hasFactors(layer: CapturedLayer): boolean {
    return this.state.get('A', layer) != null && this.state.get('G', layer) != null;
  }

  protected isReady(layer: CapturedLayer): boolean {
    return this.state.get('inverseA', layer) != null;
  }

  protected updateInverses(layer: CapturedLayer, { damping }: KFACStep): void {
    const a = this.state.get('A', layer) as tf.Tensor2D;
    const g = this.state.get('G', layer) as tf.Tensor2D;
    const traces = tf.tidy(() => tf.stack([trace(a), trace(g)]));
    const [traceA, traceG] = traces.dataSync();
    traces.dispose();
    const pi = dampingSplit(traceA!, a.shape[0], traceG!, g.shape[0]);
    const root = Math.sqrt(damping);
    this.state.set('inverseA', layer, dampedInverse(a, root * pi, this.linalg));
    this.state.set('inverseG', layer, dampedInverse(g, root / pi, this.linalg));
  }

  protected preconditionLayers(
    layers: LayerGradients[],
    { klClip }: KFACStep,
  ): Map<string, tf.Tensor> {
    const items = this.preconditionEach(layers, (gt, layer) =>
      kfacApply(
        gt,
        this.state.get('inverseA', layer) as tf.Tensor2D,
        this.state.get('inverseG', layer) as tf.Tensor2D,
      ),
    );
    const sum = (f: (i: (typeof items)[number]) => tf.Tensor) =>
      tf.addN(items.map((i) => tf.sum(f(i)))) as tf.Scalar;
    const scale = klClipScale(
      {
        preconditionedDotGradient: sum((i) => tf.mul(i.preconditioned, i.gt)),
        gradientSquaredNorm: sum((i) => tf.square(i.gt)),
        preconditionedSquaredNorm: sum((i) => tf.square(i.preconditioned)),
      },
      klClip == null ? 0 : this.learningRate,
      klClip,
    );
    return this.matrixUpdates(items, scale);
  }
}

registerWrappedOptimizer(KFAC);
