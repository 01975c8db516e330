/**
 * Base of the optimizers that precondition every parameter tensor of the model from its
 * gradient alone (Eva-s, Shampoo, M-FAC), with no layer capture: state is kept per model
 * variable (by position in `model.trainableWeights`).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { GradientEntry } from './gradients.js';
import { modelVariables, type ModelVariable } from './model-variables.js';
import { WrappingOptimizer, type WrappingOptions } from './wrapping-optimizer.js';

/** A gradient together with the model variable it belongs to. */
export interface VariableGradient extends GradientEntry {
  readonly modelVariable: ModelVariable;
}

/** Base class of the tensor-wise optimizers. */
export abstract class TensorwiseOptimizer<H = unknown> extends WrappingOptimizer<H> {
  /** The model's trainable variables, by tf variable name. */
  protected readonly variables: Map<string, ModelVariable>;

  protected constructor(model: tfl.LayersModel, base: tf.Optimizer, options: WrappingOptions) {
    super(model, base, options);
    this.variables = modelVariables(model);
    if (this.variables.size === 0) {
      throw new Error(`${new.target.name}: the model has no trainable variables`);
    }
  }

  /** The model variables among `gradients` (others, e.g. extra variables of a custom loop, keep their gradient). */
  protected modelGradients(gradients: GradientEntry[]): VariableGradient[] {
    const result: VariableGradient[] = [];
    for (const entry of gradients) {
      const modelVariable = this.variables.get(entry.name);
      if (modelVariable != null) result.push({ ...entry, modelVariable });
    }
    return result;
  }
}
