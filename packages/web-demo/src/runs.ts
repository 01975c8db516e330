/**
 * A run: one optimizer training its own copy of the model (same architecture, same seed),
 * with its progress. The options each optimizer gets come from its registry declarations:
 * the demo's fixed settings only where declared, the registry's small-model test options, and
 * the values of its option controls.
 */
import type * as tf from '@tensorflow/tfjs';
import { createOptimizerByName, optimizerEntry, type RegistryOptions } from 'eva-tfjs';
import { createAutoencoder, createMlp, initializeLikePyTorch } from '@eva-tfjs/experiments/models';
import type { LossPoint } from './charts.js';

/** The paper's MNIST autoencoder, or an MLP classifier. */
export type ModelKind = 'autoencoder' | 'mlp';

/**
 * Settings the demo passes to every optimizer that declares them: a little weight decay, and
 * inverses refreshed every 10 steps (rather than every step) to keep the page responsive.
 */
const DEMO_SETTINGS: Readonly<Record<string, unknown>> = { weightDecay: 5e-4, invUpdateFreq: 10 };

/** One optimizer's model, optimizer and progress. */
export interface Run {
  name: string;
  /** The peak learning rate of its schedule. */
  learningRate: number;
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  /** Whether the model classifies (targets are one-hot labels) rather than reconstructs. */
  classifier: boolean;
  steps: number;
  /** Seconds spent in this run's training steps. */
  seconds: number;
  losses: LossPoint[];
}

/**
 * The options optimizer `name` is built with: the registry's extra options for small models,
 * the demo's settings it declares, then `controls` (the values of its option controls; undefined
 * ones are left to the declared defaults), at `learningRate`.
 */
export function optimizerOptions(
  name: string,
  learningRate: number,
  controls: Readonly<Record<string, unknown>>,
): RegistryOptions {
  const entry = optimizerEntry(name);
  const declared = Object.entries(DEMO_SETTINGS).filter(([option]) => option in entry.options);
  return {
    ...entry.testing.options,
    ...Object.fromEntries(declared),
    ...controls,
    learningRate,
  };
}

/** A fresh model (PyTorch-like initialisation, seed 0) compiled with optimizer `name`. */
export function createRun(name: string, kind: ModelKind, options: RegistryOptions): Run {
  const classifier = kind === 'mlp';
  const model = classifier
    ? createMlp({ height: 28, width: 28, channels: 1, classes: 10 })
    : createAutoencoder();
  initializeLikePyTorch(model, 0);
  let optimizer: tf.Optimizer;
  try {
    optimizer = createOptimizerByName(name, model, options);
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.compile({
    optimizer,
    loss: classifier ? 'categoricalCrossentropy' : 'meanSquaredError',
  });
  return {
    name,
    learningRate: options.learningRate,
    model,
    optimizer,
    classifier,
    steps: 0,
    seconds: 0,
    losses: [],
  };
}

/** Frees a run's model and optimizer state. */
export function disposeRun(run: Run): void {
  run.model.dispose();
  run.optimizer.dispose();
}
