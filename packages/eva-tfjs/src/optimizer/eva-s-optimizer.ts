/** `EvaS`: the vectorized Shampoo of the paper (Eq. 23) as a `tf.Optimizer` wrapping a base optimizer. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { axisMeans, evaSDirection, graftToNorm } from '../preconditioners/eva-s.js';
import type { GradientEntry } from './gradients.js';
import type { ModelVariable } from './model-variables.js';
import {
  checkHyperparameter,
  checkNumber,
  positive,
  rejectUnknownOptions,
  resolveHyperparameter,
  unitInterval,
  type Hyperparameter,
} from './hyperparameter.js';
import { StateSlots, type SlotShapes } from './state-slots.js';
import { TensorwiseOptimizer, type VariableGradient } from './tensorwise-optimizer.js';
import { WRAPPING_OPTION_NAMES, type WrappingOptions } from './wrapping-optimizer.js';
import { registerWrappedOptimizer } from './serialization.js';

/** Options of {@link EvaS}. */
export interface EvaSOptions extends WrappingOptions {
  /** Damping gamma (default 0.03). */
  damping?: Hyperparameter;
  /** Statistics decay: 1 (default) keeps a running sum, < 1 an exponential average. */
  beta2?: number;
}

interface EvaSStep {
  damping: number;
}

/** Parameter tensors of higher order than this are rejected (a clear error, not a silent skip). */
const MAX_ORDER = 8;

/**
 * Eva-s: every parameter tensor of order >= 2 (Dense and Conv2D kernels, and any other) is
 * preconditioned with one accumulated mean vector per axis and grafted to its gradient's norm;
 * biases and other vectors keep their gradient. Not limited to Dense/Conv2D layers, like Shampoo.
 */
export class EvaS extends TensorwiseOptimizer<EvaSStep> {
  static className = 'EvaS';
  /** Every option name the constructor accepts. */
  static readonly optionNames: readonly string[] = [...WRAPPING_OPTION_NAMES, 'damping', 'beta2'];
  private readonly damping: Hyperparameter;
  private readonly beta2: number;
  protected readonly state: StateSlots<ModelVariable>;

  /**
   * @param model the model whose parameters are optimized
   * @param base the tfjs optimizer that applies the update, e.g.
   *   `tf.train.momentum(0.1, 0.9, true)` (Nesterov, the reference's choice)
   * @param options see {@link EvaSOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: EvaSOptions = {}) {
    rejectUnknownOptions('EvaS', options, EvaS.optionNames);
    const damping = checkHyperparameter('damping', options.damping ?? 0.03, positive);
    const beta2 = checkNumber('beta2', options.beta2 ?? 1, unitInterval);
    super(model, base, options);
    this.damping = damping;
    this.beta2 = beta2;
    const shapes: SlotShapes<ModelVariable> = {};
    for (let axis = 0; axis < MAX_ORDER; axis++) {
      shapes[`v${axis}`] = (v) =>
        v.shape.length >= 2 && axis < v.shape.length ? [v.shape[axis]!] : null;
    }
    const variables = [...this.variables.values()];
    for (const v of variables) {
      if (v.shape.length > MAX_ORDER) {
        throw new Error(`EvaS: parameter '${v.path}' has order ${v.shape.length} > ${MAX_ORDER}`);
      }
    }
    this.state = new StateSlots('EvaS', 'evas', variables, shapes);
  }

  override getClassName(): string {
    return EvaS.className;
  }

  protected resolveStep(step: number): EvaSStep {
    return { damping: resolveHyperparameter('damping', this.damping, step, positive) };
  }

  private preconditioned(gradients: GradientEntry[]): VariableGradient[] {
    return this.modelGradients(gradients).filter((g) => g.gradient.rank >= 2);
  }

  protected updateState(gradients: GradientEntry[]): void {
    for (const entry of this.preconditioned(gradients)) {
      const means = tf.tidy(() => axisMeans(entry.gradient));
      means.forEach((mean, axis) => {
        this.state.accumulate(`v${axis}`, entry.modelVariable, mean, this.beta2);
        mean.dispose();
      });
    }
  }

  protected transformGradients(
    gradients: GradientEntry[],
    { damping }: EvaSStep,
  ): Map<string, tf.Tensor> {
    const result = new Map<string, tf.Tensor>();
    for (const entry of this.preconditioned(gradients)) {
      const vectors = entry.gradient.shape.map(
        (_, axis) => this.state.get(`v${axis}`, entry.modelVariable) as tf.Tensor1D,
      );
      const direction = evaSDirection(entry.gradient, vectors, damping);
      result.set(entry.name, graftToNorm(direction, entry.gradient));
    }
    return result;
  }
}

registerWrappedOptimizer(EvaS);
