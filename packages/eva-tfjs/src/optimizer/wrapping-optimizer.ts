/**
 * The optimizer wrapper shared by every non-first-order optimizer of the library: a
 * `tf.Optimizer` that turns the gradients of one step into update directions (the subclass's
 * preconditioning), adds weight decay (PyTorch SGD semantics: after preconditioning unless the
 * subclass says otherwise) and delegates the update to a wrapped tfjs base optimizer.
 *
 * The step pipeline is fixed here so that every algorithm gets the same guarantees: the
 * hyper-parameters of the step are resolved (and validated) before anything changes, NaN or
 * Infinity in the gradients or statistics skips the step (or throws) with one scalar host read,
 * the state is kept as named tensors (`getWeights`/`setWeights`, validated before any change),
 * and nothing leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { disposeBaseOptimizer } from './dispose-base.js';
import {
  gradientEntries,
  type GradientEntry,
  type GradientInput,
  type NamedTensor,
} from './gradients.js';
import { encodeOptions } from './serialization.js';
import {
  checkHyperparameter,
  nonNegative,
  resolveHyperparameter,
  type Hyperparameter,
} from './hyperparameter.js';

/** What to do with a step whose gradients or statistics contain NaN or Infinity. */
export type NonFinitePolicy = 'skip' | 'throw';

/** An optimizer's own state as named tensors (names stable across processes). */
export interface OptimizerState {
  /** The live state tensors (not copies; callers must not dispose them). */
  named(): NamedTensor[];
  /** Restores from what {@link named} produced: validates everything first, then takes copies. */
  load(state: Map<string, tf.Tensor>): void;
  /** Releases every state tensor. */
  dispose(): void;
}

/** A statistic taken for a step, with how it scales with the loss normalisation. */
export interface StepStatistic {
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

/** Options every wrapping optimizer accepts. */
export interface WrappingOptions {
  /** L2 weight decay added to every gradient (default 0). */
  weightDecay?: Hyperparameter;
  /** Non-finite gradients: `'skip'` the step (default) or `'throw'`. */
  onNonFinite?: NonFinitePolicy;
}

/** Option names understood by {@link WrappingOptimizer} itself. */
export const WRAPPING_OPTION_NAMES = ['weightDecay', 'onNonFinite'] as const;

/**
 * Base class of the optimizers that wrap a tfjs base optimizer. `H` is the subclass's
 * hyper-parameters resolved for one step: {@link resolveStep} computes them once, before
 * anything changes, and they are passed to the other hooks.
 */
export abstract class WrappingOptimizer<H = unknown> extends tf.Optimizer {
  /** The wrapped tfjs optimizer that applies the final update. */
  readonly base: tf.Optimizer;
  /** Steps skipped because of non-finite gradients or statistics. */
  skippedSteps = 0;
  /** The model whose variables are optimized. */
  protected readonly model: tfl.LayersModel;
  protected readonly weightDecay: Hyperparameter;
  protected readonly onNonFinite: NonFinitePolicy;
  /**
   * Whether weight decay joins the gradient before the subclass transforms it (M-FAC's
   * reference does this) instead of after (the default: K-FAC/Eva reference semantics).
   */
  protected decayBeforeTransform = false;
  private warnedNonFinite = false;
  private disposed = false;
  private reducer: ReplicaReducer | null = null;
  /** The constructor options as given (for {@link getConfig}). */
  private readonly options: Record<string, unknown>;

  protected constructor(model: tfl.LayersModel, base: tf.Optimizer, options: WrappingOptions) {
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
    this.model = model;
    this.base = base;
    this.options = { ...options };
    this.weightDecay = checkHyperparameter('weightDecay', options.weightDecay ?? 0, nonNegative);
    const onNonFinite = options.onNonFinite ?? 'skip';
    if (onNonFinite !== 'skip' && onNonFinite !== 'throw') {
      throw new Error(`Option 'onNonFinite' must be 'skip' or 'throw', got ${String(onNonFinite)}`);
    }
    this.onNonFinite = onNonFinite;
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

  /**
   * Takes the statistics gathered outside `applyGradients` for this step (e.g. by layer
   * capture) and returns them so they join the finite check; the base disposes them after the
   * step. Default: none.
   */
  protected takeStatistics(): StepStatistic[] {
    return [];
  }

  /**
   * Replaces the statistics taken for this step by their cross-replica averages (same order as
   * {@link takeStatistics} returned them). Subclasses that keep references must override.
   */
  protected useReducedStatistics(reduced: tf.Tensor[]): void {
    void reduced;
  }

  /**
   * Installs (or removes, with null) the cross-replica reducer applied to the gradients and
   * statistics of every step before anything else uses them (data-parallel training).
   */
  setReplicaReducer(reducer: ReplicaReducer | null): void {
    this.reducer = reducer;
  }

  /**
   * Folds this step's gradients and taken statistics into the running state (after they were
   * found finite). `gradients` include weight decay when {@link decayBeforeTransform} is set.
   */
  protected abstract updateState(gradients: GradientEntry[], hyperparameters: H): void;

  /**
   * Returns the update direction of every variable it changes (by variable name); the others
   * keep their gradient. Runs inside `tf.tidy`; must not read tensors back to the host unless
   * the algorithm cannot avoid it (say so in its documentation).
   */
  protected abstract transformGradients(
    gradients: GradientEntry[],
    hyperparameters: H,
  ): Map<string, tf.Tensor>;

  /** The subclass's state (running statistics, inverses, windows). */
  protected abstract readonly state: OptimizerState;

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

  /**
   * One optimizer step without the base optimizer's update: folds statistics into the running
   * state, transforms the gradients, adds weight decay and advances the step counter. Returns
   * what {@link applyGradients} would hand to the base optimizer (the caller owns the tensors),
   * or null when the step was skipped for non-finite values. For users who apply the update
   * themselves.
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
    const local = gradientEntries(variableGradients);
    const step = this.iterations;
    const hyperparameters = this.resolveStep(step);
    const weightDecay = resolveHyperparameter('weightDecay', this.weightDecay, step, nonNegative);
    const decayFirst = this.decayBeforeTransform && weightDecay > 0;
    const taken = this.takeStatistics();
    let statistics = taken.map((s) => s.tensor);
    let raw = local;
    const owned: tf.Tensor[] = [];
    let decayed = raw;
    try {
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
      decayed = decayFirst
        ? raw.map((e) => ({
            ...e,
            gradient: tf.keep(decay(e.gradient, e.variable, weightDecay)),
          }))
        : raw;
      if (!isFinite(raw, statistics)) {
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
      this.updateState(decayed, hyperparameters);
      const updates = tf.tidy(() => {
        const transformed = this.transformGradients(decayed, hyperparameters);
        // One variable at a time: its transformed direction is released as soon as the
        // decayed update exists, which keeps the step's peak memory down.
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
      return updates;
    } finally {
      for (const s of statistics) s.dispose();
      for (const t of owned) t.dispose();
      if (decayed !== raw) for (const e of decayed) e.gradient.dispose();
    }
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
      ...this.state.named(),
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
    this.state.load(own);
    await this.base.setWeights(base);
    this.iterations_ = iterations;
  }

  /** Releases all state (the base optimizer included); subclasses add their own cleanup. */
  override dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.state.dispose();
    disposeBaseOptimizer(this.base);
    super.dispose();
  }
}

function decay(direction: tf.Tensor, variable: tf.Variable, weightDecay: number): tf.Tensor {
  return tf.tidy(() => tf.add(direction, tf.mul(variable, weightDecay)));
}

/** One scalar host read: are all gradients and statistics finite? */
function isFinite(entries: GradientEntry[], statistics: tf.Tensor[]): boolean {
  if (entries.length + statistics.length === 0) return true;
  const total = tf.tidy(() =>
    tf.addN([...entries.map((e) => tf.sum(e.gradient)), ...statistics.map((s) => tf.sum(s))]),
  );
  const value = total.dataSync()[0]!;
  total.dispose();
  return Number.isFinite(value);
}
