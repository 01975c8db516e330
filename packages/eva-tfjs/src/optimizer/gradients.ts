/**
 * The two shapes in which tfjs hands gradients to `Optimizer.applyGradients`: an ordered
 * array from `model.fit` and a name -> tensor map from `minimize` without a variable list.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A named tensor (tfjs does not export its own `NamedTensor` type from the package root). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** What `applyGradients` accepts. */
export type GradientInput = NamedTensor[] | tf.NamedTensorMap;

/** Gradients in a stable order, each with its variable. */
export interface GradientEntry {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly gradient: tf.Tensor;
}

/**
 * Normalises the input of `applyGradients` into an ordered list (array order, or map insertion
 * order, which tfjs keeps stable), checking that every gradient names a registered variable of
 * the same shape.
 */
export function gradientEntries(input: GradientInput): GradientEntry[] {
  const pairs: Array<[string, tf.Tensor | undefined]> = Array.isArray(input)
    ? input.map((item) => [item.name, item.tensor] as [string, tf.Tensor])
    : Object.entries(input);
  const registry = tf.engine().registeredVariables;
  return pairs.map(([name, gradient]) => {
    const variable = registry[name];
    if (variable == null) {
      throw new Error(`applyGradients: '${name}' is not a registered variable`);
    }
    if (!(gradient instanceof tf.Tensor)) {
      throw new Error(`applyGradients: the gradient of '${name}' is not a tensor`);
    }
    if (!tf.util.arraysEqual(gradient.shape, variable.shape)) {
      throw new Error(
        `applyGradients: the gradient of '${name}' has shape [${gradient.shape}], ` +
          `its variable [${variable.shape}]`,
      );
    }
    return { name, variable, gradient };
  });
}

/**
 * Releases the step counters in a `getWeights()` result: tfjs optimizers create the `iter`
 * tensor afresh on every call (our wrappers also return the base's as `base/iter`), and the
 * library's first-order optimizers the step counts of parameters that missed steps
 * (`step/<key>`), while every other entry is live optimizer state that must not be disposed.
 */
export function disposeIterationCounters(weights: NamedTensor[]): void {
  for (const w of weights) if (isStepCounter(w.name)) w.tensor.dispose();
}

/** Whether a `getWeights()` entry is a step counter created afresh for the call. */
export function isStepCounter(name: string): boolean {
  return name === 'iter' || name.endsWith('/iter') || /(^|\/)step\/\d+$/.test(name);
}
