/**
 * The layer-wise preconditioned optimizers (Eva, Eva-f, K-FAC, FOOF): a {@link WrappingOptimizer}
 * that captures per-layer statistics of every Dense/Conv2D layer of the model during the forward
 * and backward pass, folds them into running state, and preconditions those layers' gradients.
 * Other parameters (BatchNorm, embeddings, ...) keep their plain gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  ModelCapture,
  type CapturedLayer,
  type CapturedStatistics,
  type StatisticFunctions,
} from '../capture/model-capture.js';
import type { LayerFilter, LinearLayerInternals } from '../capture/layer-geometry.js';
import type { GradientEntry } from './gradients.js';
import { layerMatrix, splitLayerMatrix } from '../preconditioners/layer-matrix.js';
import { klNormalizationScale } from '../preconditioners/kl-clip.js';
import type { LayerGradient } from '../preconditioners/eva.js';
import { checkNumber, positiveInteger } from './hyperparameter.js';
import {
  WRAPPING_OPTION_NAMES,
  WrappingOptimizer,
  type StepStatistic,
  type WrappingOptions,
} from './wrapping-optimizer.js';

export type { NonFinitePolicy } from './wrapping-optimizer.js';

/** Options every layer-wise preconditioned optimizer accepts. */
export interface PreconditionedOptions extends WrappingOptions {
  /** Samples of each batch that feed the statistics (default 16). */
  statsBatchSize?: number;
  /** Capture statistics every this-many steps (default 1). */
  facUpdateFreq?: number;
  /** Layers (names or predicate) that keep their plain gradient. */
  skipLayers?: LayerFilter;
}

/** Option names understood by {@link PreconditionedOptimizer} itself. */
export const PRECONDITIONED_OPTION_NAMES = [
  ...WRAPPING_OPTION_NAMES,
  'statsBatchSize',
  'facUpdateFreq',
  'skipLayers',
] as const;

/** A captured layer's gradients for one step (by variable), as handed to subclasses. */
export interface LayerGradients {
  readonly layer: CapturedLayer;
  readonly kernel: GradientEntry;
  readonly bias: GradientEntry | null;
}

/** A layer's gradients as the vectorized preconditioners take them: kernel `[in, out]` and bias. */
export function layerGradient({ layer, kernel, bias }: LayerGradients): LayerGradient {
  return {
    kernel: tf.reshape(kernel.gradient, [layer.geometry.inFeatures, -1]) as tf.Tensor2D,
    bias: bias ? (bias.gradient as tf.Tensor1D) : null,
  };
}

/** The update map from per-layer results in kernel `[in, out]` / bias form (call in a tidy). */
export function layerUpdates(
  items: Array<{ gradients: LayerGradients; out: LayerGradient }>,
): Map<string, tf.Tensor> {
  const result = new Map<string, tf.Tensor>();
  for (const { gradients, out } of items) {
    result.set(gradients.kernel.name, tf.reshape(out.kernel, gradients.kernel.variable.shape));
    if (gradients.bias != null && out.bias != null) result.set(gradients.bias.name, out.bias);
  }
  return result;
}

/** A layer's gradient matrix and its preconditioned counterpart, both `[in (+1), out]`. */
export interface PreconditionedLayer {
  readonly gradients: LayerGradients;
  readonly gt: tf.Tensor2D;
  readonly preconditioned: tf.Tensor2D;
}

/**
 * Base class of the layer-wise preconditioned optimizers. Subclasses supply the statistics to
 * capture, how they enter the running state, and the preconditioning of a set of layers.
 */
export abstract class PreconditionedOptimizer<H = unknown> extends WrappingOptimizer<H> {
  /** The capture installed on the model's Dense/Conv2D layers. */
  protected readonly capture: ModelCapture;
  protected readonly facUpdateFreq: number;
  private readonly statisticFunctions: StatisticFunctions;
  /** Steps on which captured statistics entered the running state. */
  statisticsUpdates = 0;
  private pending: Array<CapturedStatistics | null> = [];
  private readonly warnedMissing = new Set<number>();

  protected constructor(
    model: tfl.LayersModel,
    base: tf.Optimizer,
    options: PreconditionedOptions,
    statistics: StatisticFunctions,
  ) {
    super(model, base, options);
    const owner = new.target.name;
    this.facUpdateFreq = checkNumber('facUpdateFreq', options.facUpdateFreq ?? 1, positiveInteger);
    const statsBatchSize = checkNumber(
      'statsBatchSize',
      options.statsBatchSize ?? 16,
      positiveInteger,
    );
    this.statisticFunctions = statistics;
    this.capture = new ModelCapture(model, {
      statsBatchSize,
      statistics,
      skipLayers: options.skipLayers,
      shouldCapture: () => this.isStatisticsStep(this.iterations),
    });
    if (this.capture.layers.length === 0) {
      this.capture.dispose();
      throw new Error(
        `${owner}: the model has no Dense or Conv2D layer to precondition` +
          (options.skipLayers ? ' (after skipLayers)' : ''),
      );
    }
  }

  /** The captured layers, in model order. */
  get layers(): readonly CapturedLayer[] {
    return this.capture.layers;
  }

  /** Whether statistics are captured on (0-based) step `step`. */
  protected isStatisticsStep(step: number): boolean {
    return step % this.facUpdateFreq === 0;
  }

  /** Folds one step's captured statistics of `layer` into the running state. */
  protected abstract updateStatistics(
    layer: CapturedLayer,
    statistics: CapturedStatistics,
    hyperparameters: H,
  ): void;

  /**
   * Returns the preconditioned gradient of every variable it changes (by variable name).
   * Runs inside `tf.tidy`; must not read tensors back to the host.
   */
  protected abstract preconditionLayers(
    layers: LayerGradients[],
    hyperparameters: H,
  ): Map<string, tf.Tensor>;

  /** Whether `layer` has the state needed to be preconditioned. */
  protected abstract isReady(layer: CapturedLayer): boolean;

  protected override takeStatistics(): StepStatistic[] {
    this.pending = this.capture.layers.map((layer) => layer.takeStatistics());
    const degree = this.statisticFunctions.gradientDegree;
    return this.pending.flatMap((s) =>
      s == null
        ? []
        : [
            { tensor: s.activation, degree: 0 as const },
            { tensor: s.gradient, degree },
          ],
    );
  }

  protected override useReducedStatistics(reduced: tf.Tensor[]): void {
    let next = 0;
    this.pending = this.pending.map((s) =>
      s == null ? null : { activation: reduced[next++]!, gradient: reduced[next++]! },
    );
  }

  protected updateState(_gradients: GradientEntry[], hyperparameters: H): void {
    const pending = this.pending;
    this.pending = [];
    if (pending.some((s) => s != null)) this.statisticsUpdates += 1;
    pending.forEach((s, i) => {
      if (s != null) this.updateStatistics(this.capture.layers[i]!, s, hyperparameters);
    });
  }

  protected transformGradients(
    entries: GradientEntry[],
    hyperparameters: H,
  ): Map<string, tf.Tensor> {
    const byName = new Map(entries.map((e) => [e.name, e]));
    const layers: LayerGradients[] = [];
    for (const layer of this.capture.layers) {
      const internals = layer.layer as unknown as LinearLayerInternals;
      const kernel = byName.get(internals.kernel!.read().name);
      if (kernel == null) continue;
      if (!this.isReady(layer)) {
        if (!this.warnedMissing.has(layer.index)) {
          this.warnedMissing.add(layer.index);
          console.warn(
            `${this.constructor.name}: layer '${layer.path}' has no captured statistics yet, so ` +
              'its gradient was not preconditioned. Run the forward pass inside the gradient ' +
              'computation (model.fit, minimize, tf.variableGrads) on a statistics step.',
          );
        }
        continue;
      }
      const biasName = internals.bias?.read().name;
      layers.push({
        layer,
        kernel,
        bias: biasName != null ? (byName.get(biasName) ?? null) : null,
      });
    }
    if (layers.length === 0) return new Map();
    return this.preconditionLayers(layers, hyperparameters);
  }

  /**
   * The update map from per-layer preconditioned matrices `[in (+1), out]` (see
   * `layerMatrix`), each multiplied by `scale` (the KL factor); call inside a tidy.
   */
  protected matrixUpdates(
    items: Array<{ gradients: LayerGradients; preconditioned: tf.Tensor2D }>,
    scale: tf.Scalar | null,
  ): Map<string, tf.Tensor> {
    const result = new Map<string, tf.Tensor>();
    for (const { gradients, preconditioned } of items) {
      const scaled =
        scale == null ? preconditioned : (tf.mul(preconditioned, scale) as tf.Tensor2D);
      const { kernel, bias } = splitLayerMatrix(
        gradients.layer.geometry,
        scaled,
        gradients.kernel.variable.shape,
      );
      result.set(gradients.kernel.name, kernel);
      if (gradients.bias != null && bias != null) result.set(gradients.bias.name, bias);
    }
    return result;
  }

  /**
   * Each layer's gradient matrix `gt` `[in (+1), out]` and its preconditioned matrix from
   * `apply` (call inside a tidy).
   */
  protected preconditionEach(
    layers: LayerGradients[],
    apply: (gt: tf.Tensor2D, layer: CapturedLayer) => tf.Tensor2D,
  ): PreconditionedLayer[] {
    return layers.map((gradients) => {
      const gt = this.gradientMatrix(gradients);
      return { gradients, gt, preconditioned: apply(gt, gradients.layer) };
    });
  }

  /** The updates of `items`, KL-normalised (`P / sqrt(sum P . G)`) when `normalize`. */
  protected normalizedUpdates(
    items: PreconditionedLayer[],
    normalize: boolean,
  ): Map<string, tf.Tensor> {
    const scale = normalize
      ? klNormalizationScale(
          tf.addN(items.map((i) => tf.sum(tf.mul(i.preconditioned, i.gt)))) as tf.Scalar,
        )
      : null;
    return this.matrixUpdates(items, scale);
  }

  /** The gradient matrix `[in (+1), out]` of a layer (see `layerMatrix`); call inside a tidy. */
  protected gradientMatrix({ layer, kernel, bias }: LayerGradients): tf.Tensor2D {
    return layerMatrix(layer.geometry, kernel.gradient, bias?.gradient ?? null);
  }

  /** Restores the layers and releases all state (the base optimizer included). */
  override dispose(): void {
    this.capture.dispose();
    super.dispose();
  }
}
