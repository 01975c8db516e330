/**
 * Saving and loading models with their optimizer (`model.save(handler, {includeOptimizer:
 * true})`, `tf.loadLayersModel`).
 *
 * Every optimizer class of the library is registered with tfjs's serialization. The first-order
 * ones load as they are. The wrapped ones (Eva, K-FAC, ...) need the model they precondition,
 * which tfjs does not hand to `fromConfig`: they load as a {@link DetachedOptimizer} that keeps
 * the saved configuration and state (the model loads and predicts; re-saving keeps both), and
 * {@link attachOptimizer} rebuilds the real optimizer on the loaded model with that state, so
 * `fit` continues exactly where the saved run stopped.
 *
 * tfjs camel-cases every string of a saved configuration on load (`dense_1` comes back as
 * `dense1`), so strings that must survive (layer names) are stored hex-encoded, and option
 * values that cannot be saved (functions of the step, predicates) are stored as the marker
 * {@link FUNCTION_MARKER}: {@link attachOptimizer} asks for them again.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { NamedTensor } from './gradients.js';

/** Stored in a configuration in place of an option that was a function when saved. */
export const FUNCTION_MARKER = 'function';
const HEX_PREFIX = 'hex';

/** A constructor of a wrapped optimizer: `new (model, base, options)`. */
export type WrappedOptimizerClass = (new (
  model: tfl.LayersModel,
  base: tf.Optimizer,
  options: Record<string, unknown>,
) => tf.Optimizer) & { className: string };

function encodeString(value: string): string {
  return (
    HEX_PREFIX +
    Array.from(new TextEncoder().encode(value), (b) => b.toString(16).padStart(2, '0')).join('')
  );
}

function decodeString(value: string, option: string): string {
  const hex = value.slice(HEX_PREFIX.length);
  if (!value.startsWith(HEX_PREFIX) || !/^([0-9a-f]{2})*$/.test(hex)) {
    throw new Error(`Saved optimizer option '${option}': expected an encoded name, got '${value}'`);
  }
  const bytes = Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
  return new TextDecoder().decode(bytes);
}

/**
 * The constructor options of an optimizer as a saveable configuration: numbers, booleans,
 * null and lower-case words as they are; functions as {@link FUNCTION_MARKER}; arrays of
 * strings (layer names) hex-encoded.
 */
export function encodeOptions(options: Record<string, unknown>): tf.serialization.ConfigDict {
  const config: tf.serialization.ConfigDict = {};
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (typeof value === 'function') config[name] = FUNCTION_MARKER;
    else if (Array.isArray(value)) config[name] = value.map((v) => encodeString(String(v)));
    else if (value === null || ['number', 'boolean', 'string'].includes(typeof value)) {
      config[name] = value as number | boolean | string | null;
    } else {
      throw new Error(`Optimizer option '${name}' cannot be saved (${typeof value})`);
    }
  }
  return config;
}

/**
 * The inverse of {@link encodeOptions}; `overrides` replace saved values (and must be given
 * for options saved as functions).
 */
export function decodeOptions(
  owner: string,
  config: tf.serialization.ConfigDict,
  overrides: Record<string, unknown>,
): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(config)) {
    if (name in overrides) continue;
    if (value === FUNCTION_MARKER) {
      throw new Error(
        `${owner}: option '${name}' was a function when the model was saved and cannot be ` +
          `restored from the file; pass it again: attachOptimizer(model, { ${name}: ... })`,
      );
    }
    options[name] = Array.isArray(value)
      ? value.map((v) => decodeString(String(v), name))
      : (value as unknown);
  }
  return { ...options, ...overrides };
}

/** Drops the `customObjects` entry tfjs adds to every configuration it deserialises. */
export function withoutCustomObjects(
  config: tf.serialization.ConfigDict,
): tf.serialization.ConfigDict {
  const { customObjects, ...rest } = config;
  void customObjects;
  return rest;
}

/**
 * A wrapped optimizer loaded from a saved model, before {@link attachOptimizer} gave it its
 * model: keeps the saved configuration and state (so the model can be saved again unchanged),
 * and refuses to train with a message saying what to call.
 */
export class DetachedOptimizer extends tf.Optimizer {
  private state: NamedTensor[] = [];

  constructor(
    /** The class name of the saved optimizer (e.g. `'Eva'`). */
    readonly savedClassName: string,
    /** Its saved configuration (options, base optimizer). */
    readonly savedConfig: tf.serialization.ConfigDict,
  ) {
    super();
  }

  override getClassName(): string {
    return this.savedClassName;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.savedConfig;
  }

  applyGradients(): void {
    throw new Error(
      `${this.savedClassName} was loaded from a saved model and needs its model before it can ` +
        "train: call attachOptimizer(model) from 'eva-tfjs' after tf.loadLayersModel",
    );
  }

  /** The saved state (copies owned by this object). */
  override async getWeights(): Promise<NamedTensor[]> {
    return this.state;
  }

  /** Keeps copies of `weightValues` (tfjs disposes the originals after loading). */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const copies = weightValues.map(({ name, tensor }) => ({
      name,
      tensor: tf.keep(tf.clone(tensor)),
    }));
    for (const { tensor } of this.state) tensor.dispose();
    this.state = copies;
  }

  override dispose(): void {
    for (const { tensor } of this.state) tensor.dispose();
    this.state = [];
    super.dispose();
  }
}

/**
 * Registers a wrapped optimizer class with tfjs's serialization: loading a model saved with it
 * yields a {@link DetachedOptimizer} until {@link attachOptimizer}.
 */
export function registerWrappedOptimizer(cls: WrappedOptimizerClass): void {
  const registered = cls as unknown as tf.serialization.SerializableConstructor<tf.Optimizer> & {
    fromConfig: (c: unknown, config: tf.serialization.ConfigDict) => tf.Optimizer;
  };
  registered.fromConfig = (_cls, config) =>
    new DetachedOptimizer(cls.className, withoutCustomObjects(config));
  tf.serialization.registerClass(registered);
}
