/**
 * {@link attachOptimizer}: gives a model loaded with `tf.loadLayersModel` its wrapped optimizer
 * back (see `serialization.ts`). Importing this module registers every optimizer class of the
 * library with tfjs's serialization (through the registry), also in tree-shaken bundles.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { isSlotOptimizer } from './first-order/slot-optimizer.js';
import { optimizerNames } from './registry.js';
import { decodeOptions, DetachedOptimizer, type WrappedOptimizerClass } from './serialization.js';

// Every class registers itself when its module loads; the registry imports them all.
void optimizerNames;

function registeredClass(className: string): {
  cls: tf.serialization.SerializableConstructor<tf.serialization.Serializable>;
  fromConfig: tf.serialization.FromConfigMethod<tf.serialization.Serializable>;
} {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (entry == null)
    throw new Error(`attachOptimizer: no optimizer class '${className}' is registered`);
  return { cls: entry[0], fromConfig: entry[1] };
}

/**
 * Gives a model loaded with `tf.loadLayersModel` its wrapped optimizer back: rebuilds the saved
 * optimizer (class, options, base optimizer) on `model`, restores its saved state and installs
 * it as `model.optimizer`, so `model.fit` continues exactly as the saved run would have. Returns
 * the optimizer. `overrides` replace saved options (required for options that were functions).
 * A model whose optimizer is already attached is returned as it is; a first-order optimizer of
 * the library (which tfjs rebuilds itself) is given the model when it was saved with one (built
 * by name), so its state follows the model's variables as when it was saved.
 *
 * ```ts
 * const model = await tf.loadLayersModel('file://run/model.json');
 * const eva = await attachOptimizer(model);
 * await model.fit(xs, ys, { epochs: 1 });
 * ```
 */
export async function attachOptimizer(
  model: tfl.LayersModel,
  overrides: Record<string, unknown> = {},
): Promise<tf.Optimizer> {
  if (model == null || !Array.isArray((model as { layers?: unknown }).layers)) {
    throw new Error(
      'attachOptimizer: expected the tf.LayersModel that tf.loadLayersModel returned',
    );
  }
  const detached = (model as { optimizer?: tf.Optimizer }).optimizer;
  if (detached == null) {
    throw new Error(
      'attachOptimizer: the model has no optimizer (was it saved with includeOptimizer: true?)',
    );
  }
  // A first-order optimizer of the library, rebuilt by tfjs: its state is keyed by the model.
  if (isSlotOptimizer(detached)) {
    // (One saved without a model keeps binding its state to the next step's variables.)
    if (detached.canUseModelOrder()) detached.useModelOrder(model);
    return detached;
  }
  // (`instanceof` cannot tell: tfjs's Optimizer accepts any optimizer-like object.)
  if (detached.constructor !== DetachedOptimizer) return detached;
  const saved = detached as DetachedOptimizer;
  const owner = saved.savedClassName;
  const { baseClassName, baseConfig, ...options } = saved.savedConfig;
  if (typeof baseClassName !== 'string' || baseConfig == null || typeof baseConfig !== 'object') {
    throw new Error(`attachOptimizer: the saved ${owner} configuration has no base optimizer`);
  }
  const base = registeredClass(baseClassName);
  const baseOptimizer = base.fromConfig(
    base.cls,
    baseConfig as tf.serialization.ConfigDict,
  ) as tf.Optimizer;
  const Wrapped = registeredClass(owner).cls as unknown as WrappedOptimizerClass;
  let optimizer: tf.Optimizer;
  try {
    optimizer = new Wrapped(model, baseOptimizer, decodeOptions(owner, options, overrides));
  } catch (e) {
    baseOptimizer.dispose();
    throw e;
  }
  try {
    await optimizer.setWeights(await saved.getWeights());
  } catch (e) {
    optimizer.dispose();
    throw e;
  }
  (model as { optimizer: tf.Optimizer }).optimizer = optimizer;
  saved.dispose();
  return optimizer;
}
