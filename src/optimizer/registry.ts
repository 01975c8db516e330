/**
 * Builds any optimizer of the library by name, for the CLI and benchmarks. Second-order
 * optimizers get SGD with momentum 0.9 as their base unless told otherwise.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Eva, type EvaOptions } from './eva-optimizer.js';
import { SGD } from './first-order/sgd.js';
import { rejectUnknownOptions } from './hyperparameter.js';

/** Options common to every name; each algorithm adds its own. */
export interface RegistryOptions {
  learningRate: number;
  /** Momentum of SGD, and of the base optimizer of second-order methods (default 0.9). */
  momentum?: number;
  weightDecay?: number;
  [option: string]: unknown;
}

interface Entry {
  /** Option names beyond learningRate/momentum/weightDecay. */
  options: readonly string[];
  build(model: tfl.LayersModel, options: RegistryOptions): tf.Optimizer;
}

const COMMON = ['learningRate', 'momentum', 'weightDecay'];

const REGISTRY: Record<string, Entry> = {
  sgd: {
    options: ['nesterov'],
    build: (_model, o) =>
      new SGD({
        learningRate: o.learningRate,
        momentum: o.momentum ?? 0.9,
        weightDecay: o.weightDecay ?? 0,
        nesterov: (o.nesterov as boolean | undefined) ?? false,
      }),
  },
  eva: {
    options: [
      'damping',
      'factorDecay',
      'klClip',
      'statsBatchSize',
      'facUpdateFreq',
      'skipLayers',
      'onNonFinite',
    ],
    build: (model, o) => {
      const { learningRate, momentum, ...rest } = o;
      return new Eva(model, tf.train.momentum(learningRate, momentum ?? 0.9), rest as EvaOptions);
    },
  },
};

/** The names {@link createOptimizer} accepts. */
export function optimizerNames(): string[] {
  return Object.keys(REGISTRY);
}

/** The options optimizer `name` accepts (throws listing the valid names for an unknown one). */
export function optimizerOptionNames(name: string): string[] {
  return [...COMMON, ...entryFor(name).options];
}

function entryFor(name: string): Entry {
  const entry = REGISTRY[name.toLowerCase()];
  if (entry == null) {
    throw new Error(`Unknown optimizer '${name}'; valid names are ${optimizerNames().join(', ')}`);
  }
  return entry;
}

/** Builds the optimizer `name` for `model`; unknown names or options are errors listing the valid ones. */
export function createOptimizer(
  name: string,
  model: tfl.LayersModel,
  options: RegistryOptions,
): tf.Optimizer {
  const entry = entryFor(name);
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  rejectUnknownOptions(name, defined, optimizerOptionNames(name));
  return entry.build(model, defined as RegistryOptions);
}
