/**
 * The step pipeline every second-order optimizer of the library runs: a `tf.Optimizer` that
 * composes an {@link Algorithm} (its state and math) with a tfjs base optimizer that applies the
 * final update. One step, top to bottom:
 *
 *  1. resolve every option for this step (functions of the step evaluated and validated),
 *     before anything changes;
 *  2. take the statistics captured during the forward/backward pass (layer-wise algorithms);
 *  3. average gradients and statistics across data-parallel replicas (when installed);
 *  4. weight decay before the transform (algorithms whose reference does that, M-FAC);
 *  5. one scalar host read: NaN or Infinity anywhere skips the step (or throws), state unchanged;
 *  6. fold the statistics into the state (on statistics steps: `facUpdateFreq`);
 *  7. the expensive work, inverses or roots (on inverse steps: `invUpdateFreq`);
 *  8. the transform: each layer's (or tensor's) direction, then the scaling shared by all
 *     layers (KL clipping or KL normalisation) or per tensor (grafting);
 *  9. weight decay after the transform (the default: PyTorch SGD semantics), and the base
 *     optimizer's update.
 *
 * The state is named tensors (`getWeights`/`setWeights`, everything validated before anything
 * changes), `getConfig` is the constructor options (see `serialization.ts`), and nothing leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  ModelCapture,
  type CapturedLayer,
  type CapturedStatistics,
} from '../capture/model-capture.js';
import type { LayerFilter, LinearLayerInternals } from '../capture/layer-geometry.js';
import { klClipScale, klNormalizationScale } from '../preconditioners/kl-clip.js';
import { graftToNorm, type LayerGradient } from '../preconditioners/layer-math.js';
import type {
  Algorithm,
  AlgorithmState,
  LayerDirection,
  LayerwiseAlgorithm,
  TensorwiseAlgorithm,
  VariableGradient,
} from './algorithm.js';
import { disposeBaseOptimizer } from './dispose-base.js';
import {
  disposeIterationCounters,
  gradientEntries,
  type GradientEntry,
  type GradientInput,
  type NamedTensor,
} from './gradients.js';
import { modelVariables, type ModelVariable } from './model-variables.js';
import { NonFiniteGuard } from './non-finite.js';
import { isSlotOptimizer } from './first-order/slot-optimizer.js';
import { checkFinite, checkIterations, checkSlots, checkStateInput } from './state-checks.js';
import {
  defineOptions,
  every,
  NON_FINITE_OPTION,
  nonNegative,
  positiveInteger,
  resolveOptions,
  validateOptions,
  type Hyperparameter,
  type NonFinitePolicy,
  type OptionSpecs,
  type OptionValues,
  type StepValues,
} from './options.js';
import { encodeOptions } from './serialization.js';

export type { NonFinitePolicy } from './options.js';

/** Options every wrapped optimizer accepts. */
export interface WrappingOptions {
  /** L2 weight decay added to every update (default 0; number or function of the step). */
  weightDecay?: Hyperparameter;
  /** Non-finite gradients or statistics: `'skip'` the step (default) or `'throw'`. */
  onNonFinite?: NonFinitePolicy;
}

/** Options every layer-wise optimizer (Eva, Eva-f, K-FAC, FOOF) accepts. */
export interface LayerwiseOptions extends WrappingOptions {
  /** Samples of each batch that feed the statistics (default 16). */
  statsBatchSize?: number;
  /** Capture statistics every this-many steps (default 1). */
  facUpdateFreq?: number;
  /** Layers (names or a predicate) that keep their plain gradient. */
  skipLayers?: LayerFilter;
}

/** The declarations of {@link WrappingOptions}. */
export const WRAPPING_OPTIONS = defineOptions({
  weightDecay: {
    kind: 'schedule',
    default: 0,
    constraint: nonNegative,
    description: 'L2 weight decay added to the update (after preconditioning, as PyTorch SGD)',
  },
  ...NON_FINITE_OPTION,
});

/** The declarations of the layer-wise options of {@link LayerwiseOptions}. */
export const LAYERWISE_OPTIONS = defineOptions({
  statsBatchSize: {
    kind: 'number',
    default: 16,
    constraint: positiveInteger,
    description: 'samples of each batch that feed the statistics',
  },
  facUpdateFreq: {
    kind: 'number',
    default: 1,
    constraint: positiveInteger,
    description: 'statistics interval (steps)',
  },
  skipLayers: { kind: 'layers', description: 'layers that keep their plain gradient' },
});

/** Every option an optimizer built on `algorithm` accepts, declared. */
export function optionSpecsOf(algorithm: Algorithm): OptionSpecs {
  return {
    ...WRAPPING_OPTIONS,
    ...(algorithm.kind === 'layerwise' ? LAYERWISE_OPTIONS : {}),
    ...(algorithm.options as OptionSpecs),
  };
}

/** A statistic taken for a step, with how it scales with the loss normalisation. */
interface StepStatistic {
  tensor: tf.Tensor;
  /** See `StatisticFunctions.gradientDegree` (0 for activation statistics). */
  degree: 0 | 1 | 2;
}

/**
 * Averages tensors across data-parallel replicas: returns new tensors (same order and shapes),
 * each the cross-replica mean divided by `ranks^degree`. Installed by `DataParallel`.
 */
export type ReplicaReducer = (tensors: tf.Tensor[], degrees: number[]) => tf.Tensor[];

/**
 * Whether `optimizer` is a {@link WrappingOptimizer}. (`instanceof` cannot tell: tfjs's
 * `Optimizer` defines `Symbol.hasInstance` to accept anything with optimizer methods, and
 * subclasses inherit it.)
 */
export function isWrappingOptimizer(optimizer: tf.Optimizer): optimizer is WrappingOptimizer {
  return typeof (optimizer as { setReplicaReducer?: unknown }).setReplicaReducer === 'function';
}

/**
 * A second-order optimizer: the pipeline above around one algorithm. The library's classes
 * (`Eva`, `KFAC`, ...) are this with their algorithm; an algorithm of your own needs no class:
 * `new WrappingOptimizer(model, base, options, myAlgorithm)` or `registerOptimizer`.
 */
export class WrappingOptimizer<State extends AlgorithmState = AlgorithmState> extends tf.Optimizer {
  /** The wrapped tfjs optimizer that applies the final update. */
  readonly base: tf.Optimizer;
  /** The algorithm this optimizer runs. */
  readonly algorithm: Algorithm;
  /** Steps on which statistics entered the state. */
  statisticsUpdates = 0;
  /** Steps on which the expensive work (inverses, roots) ran. */
  inverseUpdates = 0;
  /** The model whose variables are optimized. */
  protected readonly model: tfl.LayersModel;
  /** The algorithm's state. */
  protected readonly state: State;
  private readonly specs: OptionSpecs;
  private readonly values: OptionValues<OptionSpecs>;
  /** The constructor options as given (for {@link getConfig}). */
  private readonly options: Record<string, unknown>;
  private readonly capture: ModelCapture | null;
  private readonly variables: ReadonlyMap<string, ModelVariable>;
  private reducer: ReplicaReducer | null = null;
  private pending: Array<CapturedStatistics | null> = [];
  private readonly warnedMissing = new Set<number>();
  private readonly guard: NonFiniteGuard;
  private disposed = false;
  private scaleOfLastStep: tf.Scalar | null = null;
  /** The factor of the step in progress, published as `lastScale` once the step completes. */
  private scaleOfThisStep: tf.Scalar | null = null;
  /**
   * The variables a base optimizer of tfjs (slots kept by position) was first given: a step
   * with others is refused, as it would apply one variable's slots to another.
   */
  private baseVariables: string[] | null = null;

  /**
   * @param model the model whose parameters are optimized (must be built)
   * @param base the optimizer that applies the update, e.g. `new SGD({ learningRate: 0.1,
   *   momentum: 0.9 })` (its slots follow the model's variables, which may then change between
   *   steps) or `tf.train.momentum(0.1, 0.9)` (slots by position: the same variables every step)
   * @param options the common options and the algorithm's (see its declarations)
   * @param algorithm what this optimizer computes
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: object, algorithm: Algorithm) {
    super();
    const owner = algorithm.name;
    if (model == null || !Array.isArray((model as { layers?: unknown }).layers)) {
      throw new Error(`${owner}: the first argument must be a tf.LayersModel`);
    }
    if (
      base == null ||
      typeof (base as { applyGradients?: unknown }).applyGradients !== 'function'
    ) {
      throw new Error(
        `${owner}: the second argument must be a tfjs optimizer such as tf.train.momentum(0.1, 0.9)`,
      );
    }
    this.model = model;
    this.base = base;
    // The library's optimizers save their slots by the model's variables, so the set of
    // variables may change between steps (tfjs's key them by position).
    if (isSlotOptimizer(base)) base.useModelOrder(model);
    this.algorithm = algorithm;
    this.options = { ...(options as Record<string, unknown>) };
    this.specs = optionSpecsOf(algorithm);
    this.values = validateOptions(owner, this.specs, this.options);
    this.guard = new NonFiniteGuard(owner, this.values.onNonFinite as NonFinitePolicy);
    if (algorithm.kind === 'layerwise') {
      const facUpdateFreq = this.values.facUpdateFreq as number;
      this.capture = new ModelCapture(model, {
        statsBatchSize: this.values.statsBatchSize as number,
        statistics: algorithm.statistics,
        skipLayers: this.values.skipLayers as LayerFilter | undefined,
        shouldCapture: () => every(facUpdateFreq, this.iterations),
      });
      if (this.capture.layers.length === 0) {
        this.capture.dispose();
        throw new Error(
          `${owner}: the model has no Dense or Conv2D layer to precondition` +
            (this.values.skipLayers ? ' (after skipLayers)' : ''),
        );
      }
      this.variables = new Map();
      try {
        this.state = algorithm.createState(this.capture.layers, this.values) as State;
      } catch (error) {
        this.capture.dispose(); // a refused option must not leave the layers captured
        throw error;
      }
    } else {
      this.capture = null;
      this.variables = modelVariables(model);
      if (this.variables.size === 0)
        throw new Error(`${owner}: the model has no trainable variables`);
      this.state = algorithm.createState([...this.variables.values()], this.values) as State;
    }
  }

  override getClassName(): string {
    return this.algorithm.name;
  }

  /** The captured layers, in model order (empty for tensor-wise algorithms). */
  get layers(): readonly CapturedLayer[] {
    return this.capture?.layers ?? [];
  }

  /**
   * The factor the last step (the last one that advanced `iterations`: `applyGradients`,
   * `minimize`, `model.fit`'s steps or {@link precondition}) multiplied every preconditioned
   * direction by:
   * - Eva and K-FAC with `klClip > 0`: the KL clipping factor `nu`, at most 1; below 1 exactly
   *   when the clip bound;
   * - Eva and K-FAC with `klClip: 0`: the rescale to the gradient's norm, `|g| / |p|`, which may
   *   exceed 1;
   * - Eva-f and FOOF: the KL normalisation `1 / sqrt(sum_l p_l . g_l)` (any positive value).
   *
   * Null before the first step, after `setWeights`, when the last step had no factor (clipping
   * or normalisation off, no preconditioned layer ready), when it was skipped for non-finite
   * values, and always for the tensor-wise algorithms (Shampoo, Eva-s, M-FAC).
   *
   * The scalar belongs to the optimizer and is replaced (disposed) by the next step: read it
   * between steps (`await opt.lastScale?.data()`), outside the training step; do not dispose it.
   */
  get lastScale(): tf.Scalar | null {
    return this.scaleOfLastStep;
  }

  /** Steps skipped because of non-finite gradients or statistics. */
  get skippedSteps(): number {
    return this.guard.skippedSteps;
  }

  /** The base optimizer's current learning rate (schedules that call `setLearningRate` apply). */
  get learningRate(): number {
    const lr = (this.base as unknown as { learningRate?: unknown }).learningRate;
    if (typeof lr !== 'number' || !Number.isFinite(lr)) {
      throw new Error(
        `${this.algorithm.name}: cannot read a numeric learningRate from the base optimizer ` +
          `${this.base.getClassName()}`,
      );
    }
    return lr;
  }

  /**
   * Installs (or removes, with null) the cross-replica reducer applied to the gradients and
   * statistics of every step before anything else uses them (data-parallel training).
   */
  setReplicaReducer(reducer: ReplicaReducer | null): void {
    this.reducer = reducer;
  }

  /**
   * One optimizer step without the base optimizer's update: returns what
   * {@link applyGradients} would hand to the base optimizer (the caller owns the tensors), or
   * null when the step was skipped for non-finite values. For users who apply updates themselves.
   * Like a full step it takes the captured statistics into the state and advances `iterations`.
   */
  precondition(gradients: GradientInput): NamedTensor[] | null {
    const result = this.step(gradients, false);
    return result && result.map(({ name, tensor }) => ({ name, tensor: tf.keep(tensor) }));
  }

  /** Applies one optimizer step (see the module documentation). */
  applyGradients(variableGradients: GradientInput): void {
    const updates = this.step(variableGradients, true);
    if (updates == null) return;
    try {
      if (isSlotOptimizer(this.base)) this.base.applyCheckedGradients(updates);
      else {
        this.base.applyGradients(updates);
        this.baseVariables ??= updates.map((u) => u.name);
      }
    } finally {
      for (const { tensor } of updates) tensor.dispose();
    }
  }

  /** The pipeline; returned tensors are fresh (never the caller's gradients). */
  private step(variableGradients: GradientInput, forBase: boolean): NamedTensor[] | null {
    this.assertUsable();
    const algorithm = this.algorithm;
    const local = gradientEntries(variableGradients);
    const step = this.iterations;
    // 1. Options at this step.
    const h = resolveOptions(algorithm.name, this.specs, this.values, step);
    const weightDecay = h.weightDecay as number;
    const decayFirst = algorithm.kind === 'tensorwise' && algorithm.decayBeforeTransform === true;
    // 2. Captured statistics.
    const taken = this.takeStatistics();
    let statistics = taken.map((s) => s.tensor);
    let raw = local;
    const owned: tf.Tensor[] = [];
    let decayed = raw;
    try {
      // The base must be able to take this step's variables (before any state changes).
      if (forBase) this.checkBaseVariables(local);
      // 3. Data-parallel reduction.
      if (this.reducer != null) {
        const reduced = this.reducer(
          [...local.map((e) => e.gradient), ...statistics],
          [...local.map(() => 0), ...taken.map((s) => s.degree)],
        );
        raw = local.map((e, i) => ({ ...e, gradient: reduced[i]! }));
        owned.push(...raw.map((e) => e.gradient));
        for (const s of statistics) s.dispose();
        statistics = reduced.slice(local.length);
        this.useReducedStatistics(statistics);
      }
      // 4. Weight decay before the transform.
      decayed =
        decayFirst && weightDecay > 0
          ? raw.map((e) => ({
              ...e,
              gradient: tf.keep(decay(e.gradient, e.variable, weightDecay)),
            }))
          : raw;
      // 5. Non-finite check, on every gradient's squared norm (handed on to the algorithms,
      // which need it: one pass over the gradients serves both).
      const norms = tf.tidy(() => decayed.map((e) => tf.sum(tf.square(e.gradient)) as tf.Scalar));
      owned.push(...norms);
      if (!this.guard.admit(step, [...norms, ...statistics])) {
        this.publishScale(null);
        return null;
      }
      const squaredNorms = new Map(decayed.map((e, i) => [e.name, norms[i]!]));
      // 6, 7. Statistics and the expensive work.
      this.updateState(decayed, squaredNorms, h, step);
      // 8, 9. Transform, scaling, weight decay after.
      const updates = tf.tidy(() => {
        const transformed = this.transform(decayed, squaredNorms, h);
        // One variable at a time: its direction is released as soon as the decayed update
        // exists, which keeps the step's peak memory down.
        return decayed.map(({ name, variable, gradient }) => {
          const direction = transformed.get(name);
          const fresh = direction != null && direction !== gradient;
          if (!(weightDecay > 0 && !decayFirst)) {
            return { name, tensor: fresh ? direction : tf.clone(direction ?? gradient) };
          }
          const tensor = decay(direction ?? gradient, variable, weightDecay);
          if (fresh) direction.dispose();
          return { name, tensor };
        });
      });
      this.incrementIterations();
      this.publishScale(this.scaleOfThisStep);
      this.scaleOfThisStep = null;
      return updates;
    } finally {
      // A step that failed after its transform publishes nothing.
      this.scaleOfThisStep?.dispose();
      this.scaleOfThisStep = null;
      for (const s of statistics) s.dispose();
      for (const t of owned) t.dispose();
      if (decayed !== raw) for (const e of decayed) e.gradient.dispose();
      this.pending = [];
    }
  }

  /** Makes `scale` the factor {@link lastScale} reports, releasing the previous one. */
  private publishScale(scale: tf.Scalar | null): void {
    if (this.scaleOfLastStep !== scale) this.scaleOfLastStep?.dispose();
    this.scaleOfLastStep = scale;
  }

  private checkBaseVariables(entries: readonly GradientEntry[]): void {
    if (isSlotOptimizer(this.base)) {
      this.base.checkVariables(entries.map((e) => e.variable));
      return;
    }
    const names = entries.map((e) => e.name);
    const first = this.baseVariables;
    // tfjs's plain SGD keeps no slots.
    if (first == null || this.base.getClassName() === tf.SGDOptimizer.className) return;
    if (names.length === first.length && names.every((name, i) => name === first[i])) return;
    throw new Error(
      `${this.algorithm.name}: this step updates ${names.length} variables, the base ` +
        `optimizer ${this.base.getClassName()} was first given ${first.length} ` +
        `(${names.length === first.length ? 'others, or in another order' : 'a different set'}); ` +
        "tfjs's optimizers keep their slots by position and would apply one variable's to " +
        "another. Pass eva-tfjs's SGD (or Adam) as the base: it keeps slots per variable " +
        '(what optimizers built by name use)',
    );
  }

  private takeStatistics(): StepStatistic[] {
    if (this.capture == null || this.algorithm.kind !== 'layerwise') return [];
    this.pending = this.capture.layers.map((layer) => layer.takeStatistics());
    const degree = this.algorithm.statistics.gradientDegree;
    return this.pending.flatMap((s) =>
      s == null
        ? []
        : [
            { tensor: s.activation, degree: 0 as const },
            { tensor: s.gradient, degree },
          ],
    );
  }

  private useReducedStatistics(reduced: tf.Tensor[]): void {
    let next = 0;
    this.pending = this.pending.map((s) =>
      s == null ? null : { activation: reduced[next++]!, gradient: reduced[next++]! },
    );
  }

  private updateState(
    gradients: GradientEntry[],
    squaredNorms: ReadonlyMap<string, tf.Scalar>,
    h: StepValues<OptionSpecs>,
    step: number,
  ): void {
    const algorithm = this.algorithm;
    // The step the intervals count (1-based for algorithms that update on an interval's last step).
    const at =
      algorithm.kind === 'tensorwise' && algorithm.intervalStep === 'last' ? step + 1 : step;
    const inverseStep =
      algorithm.inverseInterval == null || every(h[algorithm.inverseInterval] as number, at);
    if (algorithm.kind === 'layerwise') {
      const layers = this.capture!.layers;
      if (this.pending.some((s) => s != null)) this.statisticsUpdates += 1;
      this.pending.forEach((s, i) => {
        if (s != null) algorithm.updateStatistics(this.state, layers[i]!, s, h);
      });
      if (!inverseStep) return;
      const together = algorithm.refreshInverses?.(this.state, layers, h) ?? null;
      if (together != null) {
        if (together) this.inverseUpdates += 1;
        return;
      }
      if (algorithm.updateInverses == null) return;
      let updated = false;
      for (const layer of layers) {
        if (algorithm.updateInverses(this.state, layer, h)) updated = true;
      }
      if (updated) this.inverseUpdates += 1;
      return;
    }
    const entries = this.modelGradients(gradients, squaredNorms);
    const statisticsStep =
      algorithm.statisticsInterval == null || every(h[algorithm.statisticsInterval] as number, at);
    if (statisticsStep && algorithm.updateStatistics(this.state, entries, h)) {
      this.statisticsUpdates += 1;
    }
    if (algorithm.updateInverses != null && inverseStep) {
      if (algorithm.updateInverses(this.state, entries, h)) this.inverseUpdates += 1;
    }
  }

  private transform(
    gradients: GradientEntry[],
    squaredNorms: ReadonlyMap<string, tf.Scalar>,
    h: StepValues<OptionSpecs>,
  ): Map<string, tf.Tensor> {
    const algorithm = this.algorithm;
    return algorithm.kind === 'layerwise'
      ? this.transformLayers(algorithm, gradients, squaredNorms, h)
      : this.transformTensors(algorithm, gradients, squaredNorms, h);
  }

  private transformLayers(
    algorithm: LayerwiseAlgorithm,
    gradients: GradientEntry[],
    squaredNorms: ReadonlyMap<string, tf.Scalar>,
    h: StepValues<OptionSpecs>,
  ): Map<string, tf.Tensor> {
    const byName = new Map(gradients.map((e) => [e.name, e]));
    const items: Array<{
      kernel: GradientEntry;
      bias: GradientEntry | null;
      direction: LayerDirection;
    }> = [];
    for (const layer of this.capture!.layers) {
      const internals = layer.layer as unknown as LinearLayerInternals;
      const kernel = byName.get(internals.kernel!.read().name);
      if (kernel == null) continue;
      if (!algorithm.isReady(this.state, layer)) {
        this.warnNotReady(layer.index, layer.path);
        continue;
      }
      const biasName = internals.bias?.read().name;
      const bias = biasName != null ? (byName.get(biasName) ?? null) : null;
      const kernelNorm = squaredNorms.get(kernel.name)!;
      const gradient: LayerGradient = {
        kernel: tf.reshape(kernel.gradient, [layer.geometry.inFeatures, -1]) as tf.Tensor2D,
        bias: bias ? (bias.gradient as tf.Tensor1D) : null,
        squaredNorm: bias ? tf.add(kernelNorm, squaredNorms.get(bias.name)!) : kernelNorm,
      };
      items.push({
        kernel,
        bias,
        direction: algorithm.precondition(this.state, layer, gradient, h),
      });
    }
    const result = new Map<string, tf.Tensor>();
    const scale =
      items.length === 0
        ? null
        : layerScale(
            algorithm.scaling,
            items.map((i) => i.direction),
            h,
            () => this.learningRate,
          );
    this.scaleOfThisStep?.dispose();
    this.scaleOfThisStep = scale == null ? null : tf.keep(scale);
    if (items.length === 0) return result;
    for (const { kernel, bias, direction } of items) {
      // One tidy per layer: only the update outlives it (peak memory of a step).
      const [kernelUpdate, biasUpdate] = tf.tidy(() => {
        const out = direction.scaled(scale);
        const reshaped = tf.reshape(out.kernel, kernel.variable.shape);
        return bias != null && out.bias != null ? [reshaped, out.bias] : [reshaped];
      });
      result.set(kernel.name, kernelUpdate!);
      if (bias != null && biasUpdate != null) result.set(bias.name, biasUpdate);
    }
    return result;
  }

  private transformTensors(
    algorithm: TensorwiseAlgorithm,
    gradients: GradientEntry[],
    squaredNorms: ReadonlyMap<string, tf.Scalar>,
    h: StepValues<OptionSpecs>,
  ): Map<string, tf.Tensor> {
    const entries = this.modelGradients(gradients, squaredNorms);
    const directions = algorithm.transform(this.state, entries, h);
    const graft =
      algorithm.grafting === 'sgd' || (algorithm.grafting === 'option' && h.graft === 'sgd');
    if (!graft) return directions;
    const byName = new Map(entries.map((e) => [e.name, e]));
    // The ungrafted direction is released once grafted (peak memory of a step), unless an
    // algorithm handed back a tensor it does not own here: a gradient, a state tensor, or one
    // tensor for several names (released after its last use).
    const notOwned = new Set<tf.Tensor>([
      ...gradients.map((e) => e.gradient),
      ...this.state.named().map((n) => n.tensor),
    ]);
    const uses = new Map<tf.Tensor, number>();
    for (const d of directions.values()) uses.set(d, (uses.get(d) ?? 0) + 1);
    return new Map(
      [...directions].map(([name, direction]) => {
        const entry = byName.get(name)!;
        const grafted = tf.tidy(() => graftToNorm(direction, entry.gradient, entry.squaredNorm));
        const left = uses.get(direction)! - 1;
        uses.set(direction, left);
        if (left === 0 && !notOwned.has(direction)) direction.dispose();
        return [name, grafted];
      }),
    );
  }

  /** The model variables among `gradients` (others, e.g. extra variables of a custom loop, keep their gradient). */
  private modelGradients(
    gradients: GradientEntry[],
    squaredNorms: ReadonlyMap<string, tf.Scalar>,
  ): VariableGradient[] {
    const result: VariableGradient[] = [];
    for (const entry of gradients) {
      const modelVariable = this.variables.get(entry.name);
      const squaredNorm = squaredNorms.get(entry.name)!;
      if (modelVariable != null) result.push({ ...entry, modelVariable, squaredNorm });
    }
    return result;
  }

  private warnNotReady(index: number, path: string): void {
    if (this.warnedMissing.has(index)) return;
    this.warnedMissing.add(index);
    console.warn(
      `${this.algorithm.name}: layer '${path}' has no captured statistics yet, so its gradient ` +
        'was not preconditioned. Run the forward pass inside the gradient computation ' +
        '(model.fit, minimize, tf.variableGrads) on a statistics step.',
    );
  }

  /**
   * The constructor options (functions of the step saved as a marker that `attachOptimizer`
   * asks for again) and the base optimizer's class and configuration: what `model.save` stores
   * and `attachOptimizer` rebuilds from.
   */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...encodeOptions(this.options),
      baseClassName: this.base.getClassName(),
      baseConfig: this.base.getConfig(),
    };
  }

  /** State: step counter, the base optimizer's slots (prefixed `base/`), the algorithm's state. */
  override async getWeights(): Promise<NamedTensor[]> {
    this.assertUsable();
    const base = await this.base.getWeights();
    this.state.settle?.();
    return [
      await this.saveIterations(),
      ...base.map((w) => ({ name: `base/${w.name}`, tensor: w.tensor })),
      ...this.state.named(),
    ];
  }

  /**
   * Restores the state saved by {@link getWeights}. Everything is validated first (the step
   * counter, the names and shapes of the algorithm's state and of the base optimizer's slots,
   * finite values) and copied before anything is released, so a rejected state leaves the
   * optimizer as it was and the optimizer's own tensors can be passed back.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.assertUsable();
    const owner = this.algorithm.name;
    const [first, ...rest] = checkStateInput(owner, weightValues);
    const iterations = await checkIterations(owner, first);
    const base = rest
      .filter((w) => w.name.startsWith('base/'))
      .map((w) => ({ name: w.name.slice('base/'.length), tensor: w.tensor }));
    const own = new Map(
      rest.filter((w) => !w.name.startsWith('base/')).map((w) => [w.name, w.tensor]),
    );
    this.state.validate(own);
    await this.validateBase(base);
    await checkFinite(owner, rest);
    // tfjs's optimizers replace their slot variables without releasing the old ones (the
    // library's release theirs, and a second dispose of a variable is not a no-op in tfjs).
    const previousBase = isSlotOptimizer(this.base) ? null : await this.base.getWeights();
    // The base first: it validated, so only `load` below could still throw, which it does not
    // after `validate`.
    await this.base.setWeights(base);
    this.state.load(own);
    if (previousBase != null) {
      const now = await this.base.getWeights();
      disposeIterationCounters(now);
      const current = new Set(now.map((w) => w.tensor));
      for (const { tensor } of previousBase) if (!current.has(tensor)) tensor.dispose();
    }
    this.iterations_ = iterations;
    this.baseVariables = null;
    this.publishScale(null);
  }

  /**
   * The base optimizer's saved slots: its step counter first, then slots of the shapes it holds
   * now, or (before its first step) of the model's trainable variables, by position.
   */
  private async validateBase(base: NamedTensor[]): Promise<void> {
    const owner = `${this.algorithm.name} (base ${this.base.getClassName()})`;
    const [iter, ...slots] = base;
    await checkIterations(owner, iter && { ...iter, name: `base/${iter.name}` }, 'base/iter');
    if (isSlotOptimizer(this.base)) {
      // Keyed by the model's variables (see the constructor): it checks everything itself.
      try {
        await this.base.validateWeights(base);
      } catch (e) {
        throw new Error(
          `${this.algorithm.name}.setWeights: in its base optimizer's state (entries 'base/...'): ` +
            (e as Error).message,
          { cause: e },
        );
      }
      return;
    }
    const all = await this.base.getWeights();
    disposeIterationCounters(all);
    const current = all.slice(1);
    if (current.length > 0) {
      checkSlots(
        owner,
        slots,
        current.map((w) => ({ name: w.name, shape: w.tensor.shape })),
        'base optimizer slot',
      );
      return;
    }
    const shapes = this.model.trainableWeights.map((w) => w.shape as number[]);
    slots.forEach(({ name, tensor }, i) => {
      const want = shapes[i % shapes.length]!;
      if (slots.length % shapes.length !== 0 || !tf.util.arraysEqual(tensor.shape, want)) {
        throw new Error(
          `${owner}.setWeights: base slot '${name}' must have the shape [${want}] of the ` +
            `model's trainable variable ${i % shapes.length} (one or more slots per variable), ` +
            `got [${tensor.shape}] among ${slots.length} slots for ${shapes.length} variables`,
        );
      }
    });
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error(`${this.algorithm.name} has been disposed`);
  }

  /** Restores the layers and releases all state (the base optimizer included). */
  override dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.capture?.dispose();
    this.state.dispose();
    this.publishScale(null);
    disposeBaseOptimizer(this.base);
    super.dispose();
  }
}

/** The factor all layer directions are multiplied by (null: 1), per the algorithm's scaling. */
function layerScale(
  scaling: LayerwiseAlgorithm['scaling'],
  directions: LayerDirection[],
  h: StepValues<OptionSpecs>,
  learningRate: () => number,
): tf.Scalar | null {
  const sum = (f: (d: LayerDirection) => tf.Scalar) => tf.addN(directions.map(f)) as tf.Scalar;
  if (scaling === 'klNormalize') {
    return h.klNormalize === false ? null : klNormalizationScale(sum((d) => d.dotGradient()));
  }
  if (scaling !== 'klClip') return null;
  const klClip = h.klClip as number | null;
  if (klClip == null) return null;
  if (klClip === 0) {
    return klClipScale(
      {
        preconditionedDotGradient: tf.scalar(0),
        gradientSquaredNorm: sum((d) => d.gradientSquaredNorm()),
        preconditionedSquaredNorm: sum((d) => d.squaredNorm()),
      },
      learningRate(),
      0,
    );
  }
  return klClipScale(
    {
      preconditionedDotGradient: sum((d) => d.dotGradient()),
      gradientSquaredNorm: tf.scalar(0),
      preconditionedSquaredNorm: tf.scalar(0),
    },
    learningRate(),
    klClip,
  );
}

function decay(direction: tf.Tensor, variable: tf.Variable, weightDecay: number): tf.Tensor {
  return tf.tidy(() => tf.add(direction, tf.mul(variable, weightDecay)));
}
