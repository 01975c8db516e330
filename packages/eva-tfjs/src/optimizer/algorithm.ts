/**
 * What an algorithm plugs into the step pipeline (`WrappedOptimizer`): its options, its state,
 * which statistics it captures, how they update its state, its expensive work (inverses, roots)
 * and its transform of the gradients. Everything else (option validation, per-step resolution,
 * the statistics and inverse intervals, data-parallel reduction, the non-finite check, KL
 * scaling, grafting, weight decay, the base optimizer, the state round-trip, saving) is the
 * pipeline's, shared by every algorithm.
 *
 * Two kinds: a {@link LayerwiseAlgorithm} preconditions each captured Dense/Conv2D layer from
 * statistics of its input and pre-activation gradient (Eva, Eva-f, K-FAC, FOOF); a
 * {@link TensorwiseAlgorithm} preconditions parameter tensors from their gradients alone (Eva-s,
 * Shampoo, M-FAC).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type {
  CapturedLayer,
  CapturedStatistics,
  StatisticFunctions,
} from '../capture/model-capture.js';
import type { LayerGradient } from '../preconditioners/layer-math.js';
import type { GradientEntry, NamedTensor } from './gradients.js';
import type { ModelVariable } from './model-variables.js';
import type { OptionSpecs, OptionValues, StepValues } from './options.js';

/** An algorithm's state: named tensors with stable names, validated on load, owned. */
export interface AlgorithmState {
  /** The live state tensors (not copies; callers must not dispose them). */
  named(): NamedTensor[];
  /**
   * Checks that `state` (the entries of this algorithm, by name) fits: throws naming the first
   * bad entry, changes nothing.
   */
  validate(state: Map<string, tf.Tensor>): void;
  /** Replaces the state by copies of `state` (validated before). */
  load(state: Map<string, tf.Tensor>): void;
  /** Releases every state tensor (and stops any background work). */
  dispose(): void;
  /**
   * Finishes background work whose result is state (e.g. inverse roots computed on another
   * thread), so that {@link named} is complete: called before the state is saved.
   */
  settle?(): void;
}

/**
 * How the preconditioned directions of all layers are scaled together:
 * - `'klClip'`: KL clipping with the option `klClip` and the base optimizer's learning rate
 *   (paper Eq. 16; `0` rescales to the gradient norm, `null` disables it);
 * - `'klNormalize'`: `P / sqrt(sum P . G)` when the boolean option `klNormalize` is true;
 * - `'none'`.
 */
export type LayerScaling = 'klClip' | 'klNormalize' | 'none';

/**
 * One layer's preconditioned direction, lazily: the scalars the scaling needs, and the
 * direction multiplied by the scale. Created inside the pipeline's `tf.tidy`.
 */
export interface LayerDirection {
  /** `p . g` summed over the layer. */
  dotGradient(): tf.Scalar;
  /** `|p|^2` (KL clip 0 only). */
  squaredNorm(): tf.Scalar;
  /** `|g|^2` (KL clip 0 only). */
  gradientSquaredNorm(): tf.Scalar;
  /** `scale * p` in kernel `[in, out]` / bias form (`scale` null: 1). */
  scaled(scale: tf.Scalar | null): LayerGradient;
}

/** A layer-wise algorithm: `S` its option declarations, `State` its state object. */
export interface LayerwiseAlgorithm<
  S extends OptionSpecs = OptionSpecs,
  State extends AlgorithmState = AlgorithmState,
> {
  readonly kind: 'layerwise';
  /** Class-like name used in messages and saved files (e.g. `'Eva'`). */
  readonly name: string;
  /** The algorithm's own options (the pipeline adds the common and layer-wise ones). */
  readonly options: S;
  /** Which statistics of each layer's input and pre-activation gradient to capture. */
  readonly statistics: StatisticFunctions;
  /**
   * The option that sets the interval of the expensive work ({@link updateInverses}), e.g.
   * `'invUpdateFreq'`; without it, that work runs on every statistics step.
   */
  readonly inverseInterval?: keyof S & string;
  /** How the directions are scaled together. */
  readonly scaling: LayerScaling;
  /** Creates the (empty) state for the captured layers. */
  createState(layers: readonly CapturedLayer[], options: OptionValues<S>): State;
  /** Folds one step's captured statistics of `layer` into the state. */
  updateStatistics(
    state: State,
    layer: CapturedLayer,
    statistics: CapturedStatistics,
    step: StepValues<S>,
  ): void;
  /**
   * The expensive work (inverses, roots) of `layer`, on inverse steps; may read the host.
   * Returns false when the layer has no statistics yet (nothing was computed).
   */
  updateInverses?(state: State, layer: CapturedLayer, step: StepValues<S>): boolean;
  /**
   * The expensive work of all layers together, on inverse steps (e.g. handed to a worker
   * thread); returns whether anything was computed, or null to have {@link updateInverses} run
   * per layer instead.
   */
  refreshInverses?(
    state: State,
    layers: readonly CapturedLayer[],
    step: StepValues<S>,
  ): boolean | null;
  /** Whether `layer` has what {@link precondition} needs. */
  isReady(state: State, layer: CapturedLayer): boolean;
  /** The preconditioned direction of one layer (inside a tidy, no host reads). */
  precondition(
    state: State,
    layer: CapturedLayer,
    gradient: LayerGradient,
    step: StepValues<S>,
  ): LayerDirection;
}

/** A model variable's gradient handed to a tensor-wise algorithm. */
export interface VariableGradient extends GradientEntry {
  readonly modelVariable: ModelVariable;
  /** `|gradient|^2` (computed once by the pipeline for its finite check). */
  readonly squaredNorm: tf.Scalar;
}

/** A tensor-wise algorithm: `S` its option declarations, `State` its state object. */
export interface TensorwiseAlgorithm<
  S extends OptionSpecs = OptionSpecs,
  State extends AlgorithmState = AlgorithmState,
> {
  readonly kind: 'tensorwise';
  readonly name: string;
  readonly options: S;
  /** The option that sets the statistics interval (default: every step). */
  readonly statisticsInterval?: keyof S & string;
  /** The option that sets the interval of {@link updateInverses}. */
  readonly inverseInterval?: keyof S & string;
  /**
   * Which step of each interval k runs the statistics and the expensive work: `'first'`
   * (default; 0-based steps 0, k, 2k, ...) or `'last'` (k - 1, 2k - 1, ...: Google's Shampoo port
   * counts its steps from 1 and updates on multiples of k).
   */
  readonly intervalStep?: 'first' | 'last';
  /**
   * Grafting: each direction takes its gradient's norm (`'sgd'`), always or when the choice
   * option `graft` says so (`'option'`), or keeps its own (`'none'`).
   */
  readonly grafting: 'sgd' | 'option' | 'none';
  /** Weight decay joins the gradient before the transform (M-FAC's reference). */
  readonly decayBeforeTransform?: boolean;
  /** Creates the (empty) state for the model's trainable variables. */
  createState(variables: readonly ModelVariable[], options: OptionValues<S>): State;
  /**
   * Folds this step's gradients into the state (on statistics steps); returns whether any
   * statistic changed.
   */
  updateStatistics(state: State, gradients: VariableGradient[], step: StepValues<S>): boolean;
  /** The expensive work (roots), on inverse steps; returns whether anything was computed. */
  updateInverses?(state: State, gradients: VariableGradient[], step: StepValues<S>): boolean;
  /**
   * The direction of every variable it changes, by variable name (inside a tidy); the others
   * keep their gradient.
   */
  transform(
    state: State,
    gradients: VariableGradient[],
    step: StepValues<S>,
  ): Map<string, tf.Tensor>;
}

/** Either kind of algorithm. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Algorithm = LayerwiseAlgorithm<any, any> | TensorwiseAlgorithm<any, any>;
