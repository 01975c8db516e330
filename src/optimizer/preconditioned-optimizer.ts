/**
 * The optimizer wrapper shared by every layer-wise preconditioner: a `tf.Optimizer` that
 * captures per-layer statistics, preconditions the gradients of captured layers, adds weight
 * decay (PyTorch SGD semantics: after preconditioning), and delegates the update to a wrapped
 * tfjs base optimizer. It guards against non-finite steps, keeps its state as named tensors
 * (`getWeights`/`setWeights`) and leaks nothing.
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
import { disposeBaseOptimizer } from './dispose-base.js';
import {
  gradientEntries,
  type GradientEntry,
  type GradientInput,
  type NamedTensor,
} from './gradients.js';
import {
  checkHyperparameter,
  checkNumber,
  nonNegative,
  positiveInteger,
  resolveHyperparameter,
  type Hyperparameter,
} from './hyperparameter.js';

/** What to do with a step whose gradients or statistics contain NaN or Infinity. */
export type NonFinitePolicy = 'skip' | 'throw';

/** Options every preconditioned optimizer accepts. */
export interface PreconditionedOptions {
  /** L2 weight decay added to every gradient after preconditioning (default 0). */
  weightDecay?: Hyperparameter;
  /** Samples of each batch that feed the statistics (default 16). */
  statsBatchSize?: number;
  /** Capture statistics every this-many steps (default 1). */
  facUpdateFreq?: number;
  /** Layers (names or predicate) that keep their plain gradient. */
  skipLayers?: LayerFilter;
  /** Non-finite gradients: `'skip'` the step (default) or `'throw'`. */
  onNonFinite?: NonFinitePolicy;
}

/** Option names understood by {@link PreconditionedOptimizer} itself. */
export const PRECONDITIONED_OPTION_NAMES = [
  'weightDecay',
  'statsBatchSize',
  'facUpdateFreq',
  'skipLayers',
  'onNonFinite',
] as const;

/** A captured layer's gradients for one step (by variable), as handed to subclasses. */
export interface LayerGradients {
  readonly layer: CapturedLayer;
  readonly kernel: GradientEntry;
  readonly bias: GradientEntry | null;
}

/**
 * Base class of the layer-wise preconditioned optimizers (Eva, K-FAC, FOOF, ...). Subclasses
 * supply the statistics to capture, how they enter the running state, and the preconditioning.
 * `H` is the subclass's hyper-parameters resolved for one step: {@link resolveStep} computes
 * (and validates) them once, before anything changes, and they are passed to the other hooks.
 */
export abstract class PreconditionedOptimizer<H = unknown> extends tf.Optimizer {
  /** The wrapped tfjs optimizer that applies the final update. */
  readonly base: tf.Optimizer;
  /** Steps skipped because of non-finite gradients or statistics. */
  skippedSteps = 0;
  /** The capture installed on the model's Dense/Conv2D layers. */
  protected readonly capture: ModelCapture;
  protected readonly weightDecay: Hyperparameter;
  protected readonly facUpdateFreq: number;
  protected readonly onNonFinite: NonFinitePolicy;
  private warnedNonFinite = false;
  private readonly warnedMissing = new Set<number>();
  private disposed = false;

  protected constructor(
    model: tfl.LayersModel,
    base: tf.Optimizer,
    options: PreconditionedOptions,
    statistics: StatisticFunctions,
  ) {
    super();
    const owner = new.target.name;
    if (model == null || !Array.isArray((model as { layers?: unknown }).layers)) {
      throw new Error(`${owner}: the first argument must be a tf.LayersModel`);
    }
    if (base == null || !(base instanceof tf.Optimizer)) {
      throw new Error(
        `${owner}: the second argument must be a tfjs optimizer such as tf.train.momentum(0.1, 0.9)`,
      );
    }
    this.base = base;
    this.weightDecay = checkHyperparameter('weightDecay', options.weightDecay ?? 0, nonNegative);
    this.facUpdateFreq = checkNumber('facUpdateFreq', options.facUpdateFreq ?? 1, positiveInteger);
    const statsBatchSize = checkNumber(
      'statsBatchSize',
      options.statsBatchSize ?? 16,
      positiveInteger,
    );
    const onNonFinite = options.onNonFinite ?? 'skip';
    if (onNonFinite !== 'skip' && onNonFinite !== 'throw') {
      throw new Error(`Option 'onNonFinite' must be 'skip' or 'throw', got ${String(onNonFinite)}`);
    }
    this.onNonFinite = onNonFinite;
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

  /** The base optimizer's current learning rate (schedules that call `setLearningRate` apply). */
  get learningRate(): number {
    const lr = (this.base as unknown as { learningRate?: unknown }).learningRate;
    if (typeof lr !== 'number' || !Number.isFinite(lr)) {
      throw new Error(
        `${this.constructor.name}: cannot read a numeric learningRate from the base optimizer ` +
          `${this.base.getClassName()}`,
      );
    }
    return lr;
  }

  /**
   * Resolves (and validates) the subclass's hyper-parameters for `step`; throws on bad values.
   * Called once per step before any state changes.
   */
  protected abstract resolveStep(step: number): H;

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

  /** The subclass's state, as named tensors (names must be stable across processes). */
  protected abstract stateTensors(): NamedTensor[];

  /** Restores the subclass's state from the tensors {@link stateTensors} produced. */
  protected abstract loadState(state: Map<string, tf.Tensor>): void;

  /** Releases the subclass's state. */
  protected abstract disposeState(): void;

  /**
   * One optimizer step without the base optimizer's update: folds the captured statistics into
   * the running state, preconditions the captured layers' gradients (with KL clipping), adds
   * weight decay and advances the step counter. Returns what {@link applyGradients} would hand
   * to the base optimizer (the caller owns the tensors), or null when the step was skipped for
   * non-finite values. For users who apply the update themselves.
   */
  precondition(gradients: GradientInput): NamedTensor[] | null {
    const result = this.step(gradients);
    return result && result.map(({ name, tensor }) => ({ name, tensor: tf.keep(tensor) }));
  }

  /** Applies one optimizer step: statistics, preconditioning, weight decay, base update. */
  applyGradients(variableGradients: GradientInput): void {
    const updates = this.step(variableGradients);
    if (updates == null) return;
    try {
      this.base.applyGradients(updates);
    } finally {
      for (const { tensor } of updates) tensor.dispose();
    }
  }

  /** The shared step; returned tensors are fresh (never the caller's gradients). */
  private step(variableGradients: GradientInput): NamedTensor[] | null {
    this.assertUsable();
    const entries = gradientEntries(variableGradients);
    const step = this.iterations;
    const hyperparameters = this.resolveStep(step);
    const weightDecay = resolveHyperparameter('weightDecay', this.weightDecay, step, nonNegative);
    const statistics = this.capture.layers.map((layer) => layer.takeStatistics());
    try {
      if (!this.isFinite(entries, statistics)) {
        if (this.onNonFinite === 'throw') {
          throw new Error(
            `${this.constructor.name}: non-finite gradients or statistics at step ${step}`,
          );
        }
        this.skippedSteps += 1;
        if (!this.warnedNonFinite) {
          this.warnedNonFinite = true;
          console.warn(
            `${this.constructor.name}: skipped step ${step}: non-finite gradients or statistics ` +
              '(weights and optimizer state unchanged; counted in skippedSteps; warned once)',
          );
        }
        return null;
      }
      statistics.forEach((s, i) => {
        if (s != null) this.updateStatistics(this.capture.layers[i]!, s, hyperparameters);
      });
    } finally {
      for (const s of statistics) {
        s?.activation.dispose();
        s?.gradient.dispose();
      }
    }
    const updates = tf.tidy(() => {
      const preconditioned = this.preconditionedEntries(entries, hyperparameters);
      return entries.map(({ name, variable, gradient }) => {
        const direction = preconditioned.get(name) ?? gradient;
        const tensor =
          weightDecay > 0 ? tf.add(direction, tf.mul(variable, weightDecay)) : tf.clone(direction);
        return { name, tensor };
      });
    });
    this.incrementIterations();
    return updates;
  }

  private preconditionedEntries(
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

  /** One scalar host read: are all gradients and new statistics finite? */
  private isFinite(
    entries: GradientEntry[],
    statistics: Array<CapturedStatistics | null>,
  ): boolean {
    const total = tf.tidy(() => {
      const parts: tf.Tensor[] = entries.map((e) => tf.sum(e.gradient));
      for (const s of statistics) {
        if (s != null) parts.push(tf.sum(s.activation), tf.sum(s.gradient));
      }
      return tf.addN(parts);
    });
    const value = total.dataSync()[0]!;
    total.dispose();
    return Number.isFinite(value);
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error(`${this.constructor.name} has been disposed`);
  }

  /** State: step counter, the base optimizer's slots (prefixed `base/`), the subclass state. */
  override async getWeights(): Promise<NamedTensor[]> {
    const base = await this.base.getWeights();
    return [
      await this.saveIterations(),
      ...base.map((w) => ({ name: `base/${w.name}`, tensor: w.tensor })),
      ...this.stateTensors(),
    ];
  }

  /**
   * Restores the state saved by {@link getWeights}. The state is validated against this model
   * before anything changes, so a mismatching state leaves the optimizer as it was.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const [first, ...rest] = weightValues;
    if (first == null || first.name !== 'iter') {
      throw new Error(
        `${this.constructor.name}.setWeights: expected the step counter 'iter' first`,
      );
    }
    const base = rest
      .filter((w) => w.name.startsWith('base/'))
      .map((w) => ({ name: w.name.slice('base/'.length), tensor: w.tensor }));
    const own = new Map(
      rest.filter((w) => !w.name.startsWith('base/')).map((w) => [w.name, w.tensor]),
    );
    const iterations = (await first.tensor.data())[0]!;
    this.loadState(own);
    await this.base.setWeights(base);
    this.iterations_ = iterations;
  }

  /** Restores the layers and releases all state (the base optimizer included). */
  override dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.capture.dispose();
    this.disposeState();
    disposeBaseOptimizer(this.base);
    super.dispose();
  }
}
