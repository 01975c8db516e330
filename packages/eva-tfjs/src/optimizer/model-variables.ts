/**
 * The trainable variables of a model with stable positions, for the optimizers that keep state
 * per parameter tensor (Eva-s, Shampoo, M-FAC). tfjs variable names carry a process-wide counter
 * (`dense_Dense3/kernel`), so saved state is keyed by the position among the model's weights
 * that can train ({@link trainableCapableWeights}: `model.trainableWeights` as if no layer were
 * frozen), which does not change when layers are frozen or unfrozen.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** One trainable variable of the model. */
export interface ModelVariable {
  /**
   * Position among the model's weights that can train (`model.trainableWeights` as if no layer
   * were frozen).
   */
  readonly index: number;
  /** The tf variable's name (what gradients are keyed by). */
  readonly name: string;
  /** The layer-relative name, e.g. `dense_1/kernel`, for messages. */
  readonly path: string;
  readonly shape: readonly number[];
}

/**
 * The model's variables that can train (frozen layers' included, so that they are
 * preconditioned once unfrozen), by tf variable name.
 */
export function modelVariables(model: tfl.LayersModel): Map<string, ModelVariable> {
  return new Map<string, ModelVariable>(
    trainableCapableWeights(model).map((w, index) => {
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

/** A weight of a model as tfjs-layers holds it (`read()` gives the tf variable). */
type LayerWeight = tfl.LayersModel['trainableWeights'][number];

/**
 * The weights of `model` that can train, in `model.trainableWeights` order as if every layer
 * were trainable: the same list whatever `layer.trainable` flags are set now (frozen layers
 * included, non-trainable weights such as BatchNorm's moving statistics not), so positions in
 * it are stable across freezing and unfreezing and across processes that build the same model.
 */
export function trainableCapableWeights(model: tfl.LayersModel): LayerWeight[] {
  const weights: LayerWeight[] = [];
  const visit = (layer: tfl.layers.Layer) => {
    const nested = (layer as unknown as { layers?: tfl.layers.Layer[] }).layers;
    if (Array.isArray(nested)) {
      for (const inner of nested) visit(inner);
      return;
    }
    // tfjs-layers keeps a layer's trainable weights here whatever its flag (the getter filters).
    const own = (layer as unknown as { _trainableWeights?: LayerWeight[] })._trainableWeights;
    weights.push(...(own ?? layer.trainableWeights));
  };
  for (const layer of model.layers) visit(layer);
  return weights;
}

/** The tf variables of {@link trainableCapableWeights}. */
export function trainableCapableVariables(model: tfl.LayersModel): tf.Variable[] {
  return trainableCapableWeights(model).map((w) => w.read() as tf.Variable);
}
