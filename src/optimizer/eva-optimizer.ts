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
  type LayerGradient,
} from '../preconditioners/eva.js';
import { klClipScale } from '../preconditioners/kl-clip.js';
import { RunningAverage } from '../preconditioners/running-average.js';
import type { NamedTensor } from './gradients.js';
import {
  checkHyperparameter,
  nonNegative,
  positive,
  rejectUnknownOptions,
  resolveHyperparameter,
  unitInterval,
  type Hyperparameter,
} from './hyperparameter.js';
import {
  PRECONDITIONED_OPTION_NAMES,
  PreconditionedOptimizer,
  type LayerGradients,
  type PreconditionedOptions,
} from './preconditioned-optimizer.js';

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
  /** @nocollapse */
  static className = 'Eva';
  private readonly damping: Hyperparameter;
  private readonly factorDecay: Hyperparameter;
  private readonly klClip: Hyperparameter | null;
  private readonly activations: RunningAverage[];
  private readonly gradients: RunningAverage[];

  /**
   * @param model the model whose Dense/Conv2D layers are preconditioned (must be built)
   * @param base the tfjs optimizer that applies the update, e.g. `tf.train.momentum(0.1, 0.9)`
   * @param options see {@link EvaOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: EvaOptions = {}) {
    rejectUnknownOptions('Eva', options, EVA_OPTION_NAMES);
    const damping = checkHyperparameter('damping', options.damping ?? 0.03, positive);
    const factorDecay = checkHyperparameter(
      'factorDecay',
      options.factorDecay ?? 0.95,
      unitInterval,
    );
    const klClip =
      options.klClip === null
        ? null
        : checkHyperparameter('klClip', options.klClip ?? 0.001, nonNegative);
    super(model, base, options, evaStatistics);
    this.damping = damping;
    this.factorDecay = factorDecay;
    this.klClip = klClip;
    this.activations = this.layers.map(() => new RunningAverage());
    this.gradients = this.layers.map(() => new RunningAverage());
  }

  override getClassName(): string {
    return Eva.className;
  }

  /** The running vectors of every captured layer (null before its first capture), by path. */
  kroneckerVectors(): Map<string, KroneckerVectors | null> {
    return new Map(
      this.layers.map((layer) => {
        const a = this.activations[layer.index]!.value;
        const g = this.gradients[layer.index]!.value;
        return [
          layer.path,
          a != null && g != null ? { a: a as tf.Tensor1D, g: g as tf.Tensor1D } : null,
        ];
      }),
    );
  }

  protected resolveStep(step: number): EvaStep {
    return {
      damping: resolveHyperparameter('damping', this.damping, step, positive),
      factorDecay: resolveHyperparameter('factorDecay', this.factorDecay, step, unitInterval),
      klClip:
        this.klClip == null
          ? null
          : resolveHyperparameter('klClip', this.klClip, step, nonNegative),
    };
  }

  protected updateStatistics(
    layer: CapturedLayer,
    statistics: CapturedStatistics,
    { factorDecay }: EvaStep,
  ): void {
    this.activations[layer.index]!.update(statistics.activation, factorDecay);
    this.gradients[layer.index]!.update(statistics.gradient, factorDecay);
  }

  protected isReady(layer: CapturedLayer): boolean {
    return this.activations[layer.index]!.value != null;
  }

  protected preconditionLayers(
    layers: LayerGradients[],
    { damping, klClip }: EvaStep,
  ): Map<string, tf.Tensor> {
    const prepared = layers.map(({ layer, kernel, bias }) => {
      const grad: LayerGradient = {
        kernel: tf.reshape(kernel.gradient, [layer.geometry.inFeatures, -1]) as tf.Tensor2D,
        bias: bias ? (bias.gradient as tf.Tensor1D) : null,
      };
      const a = this.activations[layer.index]!.value as tf.Tensor1D;
      const g = this.gradients[layer.index]!.value as tf.Tensor1D;
      return { kernel, bias, grad, a, g, terms: evaTerms(grad, a, g, damping) };
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
    const result = new Map<string, tf.Tensor>();
    for (const p of prepared) {
      const out = evaApply(p.grad, p.a, p.g, p.terms, damping, scale);
      result.set(p.kernel.name, tf.reshape(out.kernel, p.kernel.variable.shape));
      if (p.bias != null && out.bias != null) result.set(p.bias.name, out.bias);
    }
    return result;
  }

  protected stateTensors(): NamedTensor[] {
    const named: NamedTensor[] = [];
    for (const layer of this.layers) {
      const a = this.activations[layer.index]!.value;
      const g = this.gradients[layer.index]!.value;
      if (a != null && g != null) {
        named.push({ name: `eva/${layer.index}/a`, tensor: a });
        named.push({ name: `eva/${layer.index}/g`, tensor: g });
      }
    }
    return named;
  }

  protected loadState(state: Map<string, tf.Tensor>): void {
    const updates: Array<[RunningAverage, tf.Tensor]> = [];
    for (const [name, tensor] of state) {
      const match = /^eva\/(\d+)\/([ag])$/.exec(name);
      const layer = match ? this.layers[Number(match[1])] : undefined;
      if (match == null || layer == null) {
        throw new Error(`Eva.setWeights: unexpected state entry '${name}' for this model`);
      }
      const isA = match[2] === 'a';
      const expected = isA
        ? layer.geometry.inFeatures + (layer.geometry.hasBias ? 1 : 0)
        : layer.geometry.outFeatures;
      if (tensor.rank !== 1 || tensor.shape[0] !== expected) {
        throw new Error(
          `Eva.setWeights: '${name}' for layer '${layer.path}' must have shape [${expected}], ` +
            `got [${tensor.shape}]`,
        );
      }
      updates.push([(isA ? this.activations : this.gradients)[layer.index]!, tensor]);
    }
    for (const running of [...this.activations, ...this.gradients]) running.dispose();
    for (const [running, tensor] of updates) running.set(tensor);
  }

  protected disposeState(): void {
    for (const running of [...this.activations, ...this.gradients]) running.dispose();
  }

  override getConfig(): tf.serialization.ConfigDict {
    const constant = (h: Hyperparameter | null) => (typeof h === 'number' || h === null ? h : null);
    return {
      damping: constant(this.damping),
      factorDecay: constant(this.factorDecay),
      klClip: constant(this.klClip),
      facUpdateFreq: this.facUpdateFreq,
      weightDecay: constant(this.weightDecay),
      baseClassName: this.base.getClassName(),
      baseConfig: this.base.getConfig(),
    };
  }
}
