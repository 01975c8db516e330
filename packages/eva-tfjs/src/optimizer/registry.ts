/**
 * Every optimizer by name, for `createOptimizer`, the command line, benchmarks and the web demo:
 * each entry has its description, its declared options (from which the CLI's flags, the
 * sweepable settings and the demo's controls are derived), how to build it, and the settings
 * the tests use for it. Second-order optimizers get SGD with momentum 0.9 as their base unless
 * told otherwise (Eva-s and Shampoo with Nesterov momentum, as their references).
 * `registerOptimizer` adds an algorithm of your own.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Eva, evaAlgorithm, type EvaOptions } from '../preconditioners/eva.js';
import { EvaF, evaFAlgorithm, type EvaFOptions } from '../preconditioners/eva-f.js';
import { EvaS, evaSAlgorithm, type EvaSOptions } from '../preconditioners/eva-s.js';
import { KFAC, kfacAlgorithm, type KFACOptions } from '../preconditioners/kfac.js';
import { FOOF, foofAlgorithm, type FOOFOptions } from '../preconditioners/foof.js';
import { Shampoo, shampooAlgorithm, type ShampooOptions } from '../preconditioners/shampoo.js';
import { MFAC, mfacAlgorithm, type MFACOptions } from '../preconditioners/mfac.js';
import type { Algorithm } from './algorithm.js';
import {
  NESTEROV_VARIANT_OPTION,
  SGD,
  SGD_OPTIONS,
  type NesterovVariant,
  type SGDOptions,
} from './first-order/sgd.js';
import {
  ADAGRAD_OPTIONS,
  ADAM_OPTIONS,
  ADAMW_OPTIONS,
  Adagrad,
  Adam,
  AdamW,
  type AdagradOptions,
  type AdamOptions,
} from './first-order/adaptive.js';
import { isSlotOptimizer } from './first-order/slot-optimizer.js';
import {
  checkLearningRate,
  defineOptions,
  fraction,
  rejectUnknownOptions,
  validateOptions,
  type OptionSpecs,
} from './options.js';
import { registerWrappedOptimizer } from './serialization.js';
import { optionSpecsOf, WrappingOptimizer } from './wrapping-optimizer.js';

/**
 * The base optimizer of a second-order method built by name: SGD with momentum 0.9 (Nesterov
 * for `evas` and `shampoo`, as their references) at `learningRate`.
 */
export interface BaseOptimizerOptions {
  learningRate: number;
  /** Momentum of the base optimizer (default 0.9). */
  momentum?: number;
  /** Nesterov momentum (default false; true for evas/shampoo). */
  nesterov?: boolean;
  /**
   * `'reference'`: the in-place Nesterov of Google's Shampoo port (the paper's Shampoo and Eva-s
   * runs); default `'standard'` (PyTorch's, the update of `tf.train.momentum`). The base is the
   * library's {@link SGD} in either case.
   */
  nesterovVariant?: NesterovVariant;
}

/** The options {@link createOptimizer} takes for each built-in name. */
export interface OptimizerOptionsByName {
  sgd: SGDOptions;
  adagrad: AdagradOptions;
  adam: AdamOptions;
  adamw: AdamOptions;
  eva: BaseOptimizerOptions & EvaOptions;
  evaf: BaseOptimizerOptions & EvaFOptions;
  evas: BaseOptimizerOptions & EvaSOptions;
  kfac: BaseOptimizerOptions & KFACOptions;
  foof: BaseOptimizerOptions & FOOFOptions;
  shampoo: BaseOptimizerOptions & ShampooOptions;
  mfac: BaseOptimizerOptions & MFACOptions;
}

/** The class {@link createOptimizer} returns for each built-in name. */
export interface OptimizerClassByName {
  sgd: SGD;
  adagrad: Adagrad;
  adam: Adam;
  adamw: AdamW;
  eva: Eva;
  evaf: EvaF;
  evas: EvaS;
  kfac: KFAC;
  foof: FOOF;
  shampoo: Shampoo;
  mfac: MFAC;
}

/** A built-in name {@link createOptimizer} accepts. */
export type OptimizerName = keyof OptimizerOptionsByName;

/**
 * Options of an optimizer chosen at run time (e.g. from a command line): every value is
 * checked against the named optimizer's declarations when it is built.
 */
export interface RegistryOptions {
  learningRate: number;
  [option: string]: unknown;
}

/** Settings the tests use for an optimizer (kept next to its entry). */
export interface TestSettings {
  /** A learning rate that trains the tests' small autoencoder in a few epochs. */
  learningRate: number;
  /** Extra options for the small test models (e.g. a small M-FAC window). */
  options?: Record<string, unknown>;
}

/** One optimizer of the registry. */
export interface OptimizerEntry {
  /** Lower-case name (`eva`). */
  readonly name: string;
  /** One-line description for help texts. */
  readonly description: string;
  /** Every option besides `learningRate`, declared (base momentum options included). */
  readonly options: OptionSpecs;
  /** Whether it wraps a base (momentum) optimizer. */
  readonly secondOrder: boolean;
  /** Settings the tests use. */
  readonly testing: TestSettings;
  /** Builds it; `options` are validated against {@link options} first. */
  build(model: tfl.LayersModel, options: RegistryOptions): tf.Optimizer;
}

/** The options of the base optimizer of a second-order method built by name. */
function baseOptions(nesterov: boolean) {
  return defineOptions({
    momentum: {
      kind: 'number',
      default: 0.9,
      constraint: fraction,
      description: 'momentum of the base optimizer (SGD)',
    },
    nesterov: { kind: 'boolean', default: nesterov, description: 'Nesterov momentum' },
    ...NESTEROV_VARIANT_OPTION,
  });
}

/** What {@link registerOptimizer} takes for an algorithm of the step pipeline. */
export interface AlgorithmEntry {
  /** Lower-case name, unique in the registry. */
  name: string;
  description: string;
  algorithm: Algorithm;
  /**
   * The class to build (default: a `WrappingOptimizer` subclass named after the algorithm,
   * registered for saving and loading).
   */
  cls?: new (model: tfl.LayersModel, base: tf.Optimizer, options: object) => tf.Optimizer;
  /** Nesterov momentum by default for the base optimizer (default false). */
  nesterov?: boolean;
  testing: TestSettings;
}

/**
 * A class for an algorithm registered without one: a `WrappingOptimizer` named after the
 * algorithm and registered with tfjs's serialization, so models trained with it save, load and
 * re-attach like the built-in ones.
 */
function classFor(algorithm: Algorithm): NonNullable<AlgorithmEntry['cls']> {
  if (tf.serialization.SerializationMap.getMap().classNameMap[algorithm.name] != null) {
    throw new Error(
      `registerOptimizer: the algorithm name '${algorithm.name}' is already a registered ` +
        'tfjs class; give your algorithm a name of its own (models are saved under it)',
    );
  }
  const cls = class extends WrappingOptimizer {
    static className = algorithm.name;
    constructor(model: tfl.LayersModel, base: tf.Optimizer, options: object) {
      super(model, base, options, algorithm);
    }
  };
  Object.defineProperty(cls, 'name', { value: algorithm.name });
  registerWrappedOptimizer(cls);
  return cls;
}

/** A registry entry for a second-order algorithm on an SGD-momentum base. */
function algorithmEntry(entry: AlgorithmEntry): OptimizerEntry {
  const options = { ...baseOptions(entry.nesterov ?? false), ...optionSpecsOf(entry.algorithm) };
  const cls = entry.cls ?? classFor(entry.algorithm);
  return {
    name: entry.name,
    description: entry.description,
    options,
    secondOrder: true,
    testing: entry.testing,
    build(model, all) {
      const { learningRate, momentum, nesterov, nesterovVariant, ...rest } =
        all as RegistryOptions & BaseOptimizerOptions;
      const base = validateOptions(entry.algorithm.name, baseOptions(entry.nesterov ?? false), {
        momentum,
        nesterov,
        nesterovVariant,
      });
      const mu = base.momentum;
      // Momentum 0 turns the default Nesterov off (an explicit nesterov: true still needs mu > 0).
      const useNesterov = base.nesterov && !(mu === 0 && nesterov === undefined);
      if (useNesterov && mu === 0) throw new Error("Option 'nesterov' needs a momentum > 0");
      checkLearningRate(entry.algorithm.name, learningRate);
      // The library's SGD: the same update as tf.train.momentum, with slots kept per variable
      // (the set of variables may change between steps) and the reference Nesterov variant.
      const optimizer = new SGD({
        learningRate,
        momentum: mu,
        nesterov: useNesterov,
        nesterovVariant: base.nesterovVariant,
      });
      try {
        return new cls(model, optimizer, rest);
      } catch (e) {
        optimizer.dispose();
        throw e;
      }
    },
  };
}

const REGISTRY = new Map<string, OptimizerEntry>();

/** Clear errors for an incomplete algorithm object (e.g. from JavaScript). */
function checkAlgorithm(name: string, algorithm: Algorithm): void {
  const owner = `registerOptimizer('${name}')`;
  if (algorithm == null || (algorithm.kind !== 'layerwise' && algorithm.kind !== 'tensorwise')) {
    throw new Error(`${owner}: algorithm.kind must be 'layerwise' or 'tensorwise'`);
  }
  if (algorithm.options == null || typeof algorithm.options !== 'object') {
    throw new Error(`${owner}: algorithm.options must be an object of option declarations`);
  }
  if (typeof algorithm.name !== 'string' || !/^[A-Za-z][\w-]*$/.test(algorithm.name)) {
    throw new Error(`${owner}: algorithm.name must be a class-like name such as 'MyEva'`);
  }
  const required =
    algorithm.kind === 'layerwise'
      ? ['createState', 'updateStatistics', 'isReady', 'precondition']
      : ['createState', 'updateStatistics', 'transform'];
  for (const method of required) {
    if (typeof (algorithm as unknown as Record<string, unknown>)[method] !== 'function') {
      throw new Error(`${owner}: a ${algorithm.kind} algorithm needs the method '${method}'`);
    }
  }
  if (algorithm.kind === 'layerwise' && algorithm.statistics == null) {
    throw new Error(`${owner}: a layerwise algorithm needs 'statistics' (what to capture)`);
  }
}

/**
 * Adds an optimizer to the registry: an algorithm of the step pipeline (built on SGD with
 * momentum, like the built-in second-order methods), or a complete entry. Afterwards
 * `createOptimizerByName`, the command line (`--optimizer name`, its options as flags) and the
 * web demo know it. Names are case-insensitive and must be new.
 */
export function registerOptimizer(entry: AlgorithmEntry | OptimizerEntry): void {
  if (entry == null || typeof entry !== 'object' || typeof entry.name !== 'string') {
    throw new Error(
      'registerOptimizer: expected an entry { name, description, algorithm, testing }',
    );
  }
  const name = entry.name.toLowerCase();
  if (!/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new Error(`registerOptimizer: invalid name '${entry.name}' (letters, digits, '-')`);
  }
  if (REGISTRY.has(name)) throw new Error(`registerOptimizer: '${name}' is already registered`);
  if ('algorithm' in entry) checkAlgorithm(entry.name, entry.algorithm);
  else if (typeof entry.build !== 'function' || entry.options == null) {
    throw new Error(
      `registerOptimizer('${entry.name}'): give an algorithm, or a complete entry with options ` +
        'and build',
    );
  }
  if (!(entry.testing?.learningRate > 0)) {
    throw new Error(
      `registerOptimizer('${entry.name}'): testing.learningRate must be a number > 0`,
    );
  }
  const complete = 'algorithm' in entry ? algorithmEntry(entry) : entry;
  REGISTRY.set(name, { ...complete, name });
}

const firstOrder = (
  name: string,
  description: string,
  options: OptionSpecs,
  testing: TestSettings,
  build: (options: RegistryOptions) => tf.Optimizer,
): OptimizerEntry => ({
  name,
  description,
  options,
  secondOrder: false,
  testing,
  build: (model, o) => {
    const optimizer = build(o);
    // Saved by the model's variables: exact whatever variables each step updates.
    if (isSlotOptimizer(optimizer)) optimizer.useModelOrder(model);
    return optimizer;
  },
});

registerOptimizer(
  firstOrder(
    'sgd',
    'SGD with momentum (PyTorch weight decay)',
    { ...SGD_OPTIONS, momentum: { ...SGD_OPTIONS.momentum, default: 0.9 } },
    { learningRate: 0.05 },
    (o) => new SGD({ ...(o as unknown as SGDOptions), momentum: (o.momentum as number) ?? 0.9 }),
  ),
);
registerOptimizer(
  firstOrder(
    'adagrad',
    'Adagrad (PyTorch defaults)',
    ADAGRAD_OPTIONS,
    { learningRate: 0.05 },
    (o) => new Adagrad(o as unknown as AdagradOptions),
  ),
);
registerOptimizer(
  firstOrder(
    'adam',
    'Adam (L2 weight decay)',
    ADAM_OPTIONS,
    { learningRate: 0.01 },
    (o) => new Adam(o as unknown as AdamOptions),
  ),
);
registerOptimizer(
  firstOrder(
    'adamw',
    'AdamW (decoupled weight decay)',
    ADAMW_OPTIONS,
    { learningRate: 0.01 },
    (o) => new AdamW(o as unknown as AdamOptions),
  ),
);
registerOptimizer({
  name: 'eva',
  description: 'Eva: Kronecker-vector preconditioning (paper Eq. 13)',
  algorithm: evaAlgorithm,
  cls: Eva,
  testing: { learningRate: 0.05 },
});
registerOptimizer({
  name: 'evaf',
  description: 'Eva-f: vectorized FOOF (paper Eq. 21)',
  algorithm: evaFAlgorithm,
  cls: EvaF,
  testing: { learningRate: 0.05 },
});
registerOptimizer({
  name: 'evas',
  description: 'Eva-s: vectorized Shampoo (paper Eq. 23)',
  algorithm: evaSAlgorithm,
  cls: EvaS,
  nesterov: true,
  testing: { learningRate: 0.05 },
});
registerOptimizer({
  name: 'kfac',
  description: 'K-FAC with damping split and KL clipping',
  algorithm: kfacAlgorithm,
  cls: KFAC,
  testing: { learningRate: 0.05 },
});
registerOptimizer({
  name: 'foof',
  description: 'FOOF: input factor only, KL-normalised',
  algorithm: foofAlgorithm,
  cls: FOOF,
  testing: { learningRate: 0.05 },
});
registerOptimizer({
  name: 'shampoo',
  description: 'Shampoo (blocks of 128, SGD grafting)',
  algorithm: shampooAlgorithm,
  cls: Shampoo,
  nesterov: true,
  testing: { learningRate: 0.05 },
});
registerOptimizer({
  name: 'mfac',
  description: 'M-FAC: matrix-free inverse Fisher of the last m gradients',
  algorithm: mfacAlgorithm,
  cls: MFAC,
  testing: { learningRate: 0.05, options: { m: 8 } },
});

/** The names {@link createOptimizerByName} accepts, in registration order. */
export function optimizerNames(): string[] {
  return [...REGISTRY.keys()];
}

/** Whether `name` is a built-in optimizer name (case-insensitive). */
export function isOptimizerName(name: string): name is OptimizerName {
  return (BUILT_IN as readonly string[]).includes(name.toLowerCase());
}

const BUILT_IN = [
  'sgd',
  'adagrad',
  'adam',
  'adamw',
  'eva',
  'evaf',
  'evas',
  'kfac',
  'foof',
  'shampoo',
  'mfac',
] as const satisfies readonly OptimizerName[];

/** The registry entry of `name` (throws listing the valid names for an unknown one). */
export function optimizerEntry(name: string): OptimizerEntry {
  if (typeof name !== 'string') {
    throw new Error(`The optimizer name must be a string (one of ${optimizerNames().join(', ')})`);
  }
  const entry = REGISTRY.get(name.toLowerCase());
  if (entry == null) {
    throw new Error(`Unknown optimizer '${name}'; valid names are ${optimizerNames().join(', ')}`);
  }
  return entry;
}

/** A one-line description of optimizer `name`. */
export function optimizerDescription(name: string): string {
  return optimizerEntry(name).description;
}

/** The options optimizer `name` accepts (throws listing the valid names for an unknown one). */
export function optimizerOptionNames(name: string): string[] {
  return ['learningRate', ...Object.keys(optimizerEntry(name).options)];
}

/**
 * Builds the optimizer `name` for `model`, typed by name: a misspelt option is a compile error
 * and the result is the class (`createOptimizer('eva', model, {...})` is an `Eva`). Names and
 * options are also checked at run time (errors list the valid ones); `undefined` options are
 * ignored (so command-line defaults can be passed through). For a name chosen at run time, or a
 * registered optimizer of your own, see {@link createOptimizerByName}.
 */
export function createOptimizer<N extends OptimizerName>(
  name: N,
  model: tfl.LayersModel,
  options: OptimizerOptionsByName[N],
): OptimizerClassByName[N] {
  return createOptimizerByName(name, model, options as RegistryOptions) as OptimizerClassByName[N];
}

/**
 * {@link createOptimizer} for a name and options known only at run time (a command line, a
 * form, a registered optimizer): unknown names or options are errors listing the valid ones.
 */
export function createOptimizerByName(
  name: string,
  model: tfl.LayersModel,
  options: RegistryOptions,
): tf.Optimizer {
  const entry = optimizerEntry(name);
  if (options == null || typeof options !== 'object') {
    throw new Error(`${name}: options must be an object with at least { learningRate }`);
  }
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  rejectUnknownOptions(name, defined, optimizerOptionNames(name));
  checkLearningRate(name, defined.learningRate);
  return entry.build(model, defined as RegistryOptions);
}
