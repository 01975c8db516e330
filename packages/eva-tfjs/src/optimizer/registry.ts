/**
 * Builds any optimizer of the library by name, for the CLI, benchmarks and the web demo.
 * Second-order optimizers get SGD with momentum 0.9 as their base unless told otherwise (Eva-s
 * and Shampoo with Nesterov momentum, as their references).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Eva, type EvaOptions } from './eva-optimizer.js';
import { EvaF, type EvaFOptions } from './eva-f-optimizer.js';
import { EvaS, type EvaSOptions } from './eva-s-optimizer.js';
import { KFAC, type KFACOptions } from './kfac-optimizer.js';
import { FOOF, type FOOFOptions } from './foof-optimizer.js';
import { Shampoo, type ShampooOptions } from './shampoo-optimizer.js';
import { MFAC, type MFACOptions } from './mfac-optimizer.js';
import { SGD, type SGDOptions } from './first-order/sgd.js';
import {
  Adagrad,
  Adam,
  AdamW,
  type AdagradOptions,
  type AdamOptions,
} from './first-order/adaptive.js';
import { rejectUnknownOptions } from './hyperparameter.js';

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
}

/** The options {@link createOptimizer} takes for each name. */
export interface OptimizerOptionsByName {
  sgd: SGDOptions & { momentum?: number };
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

/** The class {@link createOptimizer} returns for each name. */
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

/** A name {@link createOptimizer} accepts. */
export type OptimizerName = keyof OptimizerOptionsByName;

/**
 * Options of an optimizer chosen at run time (e.g. from a command line): every value is
 * checked against the named optimizer's options when it is built.
 */
export interface RegistryOptions {
  learningRate: number;
  [option: string]: unknown;
}

interface Entry {
  /** One-line description for help texts. */
  description: string;
  /** Whether the optimizer wraps a base (momentum) optimizer. */
  secondOrder: boolean;
  /** The algorithm's option names (the common ones are added). */
  options: readonly string[];
  build(model: tfl.LayersModel, options: RegistryOptions): tf.Optimizer;
}

const COMMON = ['learningRate', 'momentum', 'nesterov', 'weightDecay'];

/** Splits the registry options into the base optimizer's and the algorithm's. */
function secondOrder<T>(
  o: RegistryOptions,
  defaultNesterov: boolean,
): { base: tf.Optimizer; rest: T } {
  const { learningRate, momentum, nesterov, ...rest } = o as RegistryOptions &
    Partial<BaseOptimizerOptions>;
  const mu = momentum ?? 0.9;
  const useNesterov = nesterov ?? defaultNesterov;
  if (useNesterov && mu === 0) throw new Error("Option 'nesterov' needs a momentum > 0");
  return { base: tf.train.momentum(learningRate, mu, useNesterov), rest: rest as T };
}

const REGISTRY: Record<OptimizerName, Entry> = {
  sgd: {
    description: 'SGD with momentum (PyTorch weight decay)',
    secondOrder: false,
    options: [],
    build: (_model, o) =>
      new SGD({
        ...(o as unknown as SGDOptions),
        momentum: (o.momentum as number | undefined) ?? 0.9,
      }),
  },
  adagrad: {
    description: 'Adagrad (PyTorch defaults)',
    secondOrder: false,
    options: ['epsilon', 'initialAccumulatorValue'],
    build: (_model, o) => new Adagrad(o as unknown as ConstructorParameters<typeof Adagrad>[0]),
  },
  adam: {
    description: 'Adam (L2 weight decay)',
    secondOrder: false,
    options: ['beta1', 'beta2', 'epsilon'],
    build: (_model, o) => new Adam(o as unknown as ConstructorParameters<typeof Adam>[0]),
  },
  adamw: {
    description: 'AdamW (decoupled weight decay)',
    secondOrder: false,
    options: ['beta1', 'beta2', 'epsilon'],
    build: (_model, o) => new AdamW(o as unknown as ConstructorParameters<typeof AdamW>[0]),
  },
  eva: {
    description: 'Eva: Kronecker-vector preconditioning (paper Eq. 13)',
    secondOrder: true,
    options: Eva.optionNames,
    build: (model, o) => {
      const { base, rest } = secondOrder<EvaOptions>(o, false);
      return new Eva(model, base, rest);
    },
  },
  evaf: {
    description: 'Eva-f: vectorized FOOF (paper Eq. 21)',
    secondOrder: true,
    options: EvaF.optionNames,
    build: (model, o) => {
      const { base, rest } = secondOrder<EvaFOptions>(o, false);
      return new EvaF(model, base, rest);
    },
  },
  evas: {
    description: 'Eva-s: vectorized Shampoo (paper Eq. 23)',
    secondOrder: true,
    options: EvaS.optionNames,
    build: (model, o) => {
      const { base, rest } = secondOrder<EvaSOptions>(o, true);
      return new EvaS(model, base, rest);
    },
  },
  kfac: {
    description: 'K-FAC with damping split and KL clipping',
    secondOrder: true,
    options: KFAC.optionNames,
    build: (model, o) => {
      const { base, rest } = secondOrder<KFACOptions>(o, false);
      return new KFAC(model, base, rest);
    },
  },
  foof: {
    description: 'FOOF: input factor only, KL-normalised',
    secondOrder: true,
    options: FOOF.optionNames,
    build: (model, o) => {
      const { base, rest } = secondOrder<FOOFOptions>(o, false);
      return new FOOF(model, base, rest);
    },
  },
  shampoo: {
    description: 'Shampoo (blocks of 128, SGD grafting)',
    secondOrder: true,
    options: Shampoo.optionNames,
    build: (model, o) => {
      const { base, rest } = secondOrder<ShampooOptions>(o, true);
      return new Shampoo(model, base, rest);
    },
  },
  mfac: {
    description: 'M-FAC: matrix-free inverse Fisher of the last m gradients',
    secondOrder: true,
    options: MFAC.optionNames,
    build: (model, o) => {
      const { base, rest } = secondOrder<MFACOptions>(o, false);
      return new MFAC(model, base, rest);
    },
  },
};

/** The names {@link createOptimizer} accepts. */
export function optimizerNames(): OptimizerName[] {
  return Object.keys(REGISTRY) as OptimizerName[];
}

/** Whether `name` is one of {@link optimizerNames} (case-insensitive). */
export function isOptimizerName(name: string): name is OptimizerName {
  return Object.hasOwn(REGISTRY, name.toLowerCase());
}

/** A one-line description of optimizer `name`. */
export function optimizerDescription(name: string): string {
  return entryFor(name).description;
}

/** The options optimizer `name` accepts (throws listing the valid names for an unknown one). */
export function optimizerOptionNames(name: string): string[] {
  const entry = entryFor(name);
  const common =
    entry.secondOrder || name.toLowerCase() === 'sgd' ? COMMON : ['learningRate', 'weightDecay'];
  return [...new Set([...common, ...entry.options])];
}

function entryFor(name: string): Entry {
  const entry = isOptimizerName(name) ? REGISTRY[name.toLowerCase() as OptimizerName] : undefined;
  if (entry == null) {
    throw new Error(`Unknown optimizer '${name}'; valid names are ${optimizerNames().join(', ')}`);
  }
  return entry;
}

/**
 * Builds the optimizer `name` for `model`, typed by name: a misspelt option is a compile error
 * and the result is the class (`createOptimizer('eva', model, {...})` is an `Eva`). Names and
 * options are also checked at run time (errors list the valid ones); `undefined` options are
 * ignored (so command-line defaults can be passed through). For a name chosen at run time, see
 * {@link createOptimizerByName}.
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
 * form): unknown names or options are errors listing the valid ones.
 */
export function createOptimizerByName(
  name: string,
  model: tfl.LayersModel,
  options: RegistryOptions,
): tf.Optimizer {
  const entry = entryFor(name);
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  rejectUnknownOptions(name, defined, optimizerOptionNames(name));
  return entry.build(model, defined as RegistryOptions);
}
