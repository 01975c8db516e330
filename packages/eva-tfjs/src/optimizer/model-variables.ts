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
  /** Whether it was trainable (its layer not frozen) when the optimizer was built. */
  readonly trainable: boolean;
}

/**
 * The model's variables that can train (frozen layers' included, marked), by tf variable name.
 */
export function modelVariables(model: tfl.LayersModel): Map<string, ModelVariable> {
  const trainable = new Set(model.trainableWeights.map((w) => (w.read() as tf.Variable).name));
  return new Map<string, ModelVariable>(
    trainableCapableWeights(model).map((w, index) => {
      const variable = w.read() as tf.Variable;
      const entry: ModelVariable = {
        index,
        name: variable.name,
        path: w.originalName,
        shape: variable.shape,
        trainable: trainable.has(variable.name),
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
 * Layers are walked as tfjs-layers lists their trainable weights: a Bidirectional layer's
 * forward then backward layer, a wrapper's layer, an RNN's cell or cells, else the layer's own
 * trainable weights whatever its flag; weights of other kinds of layer count when they train now.
 */
export function trainableCapableWeights(model: tfl.LayersModel): LayerWeight[] {
  const weights: LayerWeight[] = [];
  const visit = (layer: tfl.layers.Layer) => {
    const nested = (layer as unknown as { layers?: tfl.layers.Layer[] }).layers;
    if (Array.isArray(nested)) {
      for (const inner of nested) visit(inner);
      return;
    }
    const own: LayerWeight[] = [];
    collectTrainable(layer, own, new Set());
    const listed = new Set(own);
    // Weights the walk does not reach (a layer kind it does not know) count when they train.
    weights.push(...own, ...layer.weights.filter((w) => w.trainable && !listed.has(w)));
  };
  for (const layer of model.layers) visit(layer);
  return weights;
}

/** The trainable weights (whatever the flags) of `layer` and those it wraps, in tfjs's order. */
function collectTrainable(layer: unknown, into: LayerWeight[], seen: Set<unknown>): void {
  if (layer == null || typeof layer !== 'object' || seen.has(layer)) return;
  seen.add(layer);
  const l = layer as Record<string, unknown>;
  const inner = [
    l.forwardLayer,
    l.backwardLayer,
    l.layer,
    l.cell,
    ...((l.cells as unknown[]) ?? []),
  ];
  if (inner.some((x) => x != null)) {
    for (const x of inner) collectTrainable(x, into, seen);
    return;
  }
  // tfjs-layers keeps a layer's trainable weights here whatever its flag (the getter filters).
  for (const w of (l._trainableWeights as LayerWeight[] | undefined) ?? []) {
    if (!into.includes(w)) into.push(w);
  }
}

/** The tf variables of {@link trainableCapableWeights}. */
export function trainableCapableVariables(model: tfl.LayersModel): tf.Variable[] {
  return trainableCapableWeights(model).map((w) => w.read() as tf.Variable);
}

/**
 * Warns once per variable (`warned` holds those already named) that `owner` keeps no state for
 * because its layer was frozen when the optimizer was built, so it gets its plain gradient
 * (Shampoo, M-FAC).
 */
export function warnFrozenAtConstruction(
  owner: string,
  variables: readonly ModelVariable[],
  warned: Set<string>,
): void {
  for (const v of variables) {
    if (v.trainable || warned.has(v.name)) continue;
    warned.add(v.name);
    console.warn(
      `${owner}: '${v.path}' was frozen when the optimizer was built, so it keeps its plain ` +
        'gradient; build the optimizer after unfreezing to precondition it',
    );
  }
}
