/**
 * The trainable variables of a model with stable positions, for the optimizers that keep state
 * per parameter tensor (Eva-s, Shampoo, M-FAC). tfjs variable names carry a process-wide counter
 * (`dense_Dense3/kernel`), so saved state is keyed by the position in `model.trainableWeights`.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** One trainable variable of the model. */
export interface ModelVariable {
  /** Position in `model.trainableWeights`. */
  readonly index: number;
  /** The tf variable's name (what gradients are keyed by). */
  readonly name: string;
  /** The layer-relative name, e.g. `dense_1/kernel`, for messages. */
  readonly path: string;
  readonly shape: readonly number[];
}

/** The model's trainable variables, by tf variable name. */
export function modelVariables(model: tfl.LayersModel): Map<string, ModelVariable> {
  return new Map<string, ModelVariable>(
    model.trainableWeights.map((w, index) => {
      const variable = w.read() as tf.Variable;
      const entry: ModelVariable = {
        index,
        name: variable.name,
        path: w.originalName,
        shape: variable.shape,
      };
      return [variable.name, entry];
    }),
  );
}
