/**
 * The shared machinery of the optimizers that keep full Kronecker factors per layer and
 * invert them at an interval (K-FAC, FOOF): factors as running averages every `facUpdateFreq`
 * steps, damped inverses every `invUpdateFreq` steps by the chosen linear-algebra route, and
 * all of it (factors and inverses) in the saved state so a resumed run continues exactly.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type CapturedLayer, type StatisticFunctions } from '../capture/model-capture.js';
import type { LinalgMethod } from '../linalg/spd-inverse.js';
import type { GradientEntry } from './gradients.js';
import {
  checkChoice,
  checkNumber,
  curvatureOptions,
  positiveInteger,
  resolveCurvature,
  type CurvatureHyperparameters,
  type Hyperparameter,
} from './hyperparameter.js';
import { StateSlots, type SlotShapes } from './state-slots.js';
import {
  PRECONDITIONED_OPTION_NAMES,
  PreconditionedOptimizer,
  type PreconditionedOptions,
} from './preconditioned-optimizer.js';

/** Options of the factor-based optimizers. */
export interface FactorOptions extends PreconditionedOptions {
  /** Damping gamma (default 0.03). */
  damping?: Hyperparameter;
  /** Running-average weight of new factors, in (0, 1] (default 0.95). */
  factorDecay?: Hyperparameter;
  /** Recompute the inverses every this-many steps (default 1; the paper also uses 10 and 50). */
  invUpdateFreq?: number;
  /** `'host'` float64 Cholesky (default) or `'newton'` iteration on tf ops (bench/linalg.md). */
  linalg?: LinalgMethod;
}

/** Option names of {@link FactorOptimizer}. */
export const FACTOR_OPTION_NAMES = [
  ...PRECONDITIONED_OPTION_NAMES,
  'damping',
  'factorDecay',
  'invUpdateFreq',
  'linalg',
];

/** The hyper-parameters every factor optimizer resolves per step. */
export interface FactorStep {
  damping: number;
  factorDecay: number;
}

/** Base class of K-FAC and FOOF. */
export abstract class FactorOptimizer<H extends FactorStep> extends PreconditionedOptimizer<H> {
  /** Inverse computations so far (one per step on which inverses were refreshed). */
  inverseUpdates = 0;
  protected readonly curvature: CurvatureHyperparameters;
  protected readonly invUpdateFreq: number;
  protected readonly linalg: LinalgMethod;
  protected readonly state: StateSlots;

  protected constructor(
    model: tfl.LayersModel,
    base: tf.Optimizer,
    options: FactorOptions,
    statistics: StatisticFunctions,
    owner: string,
    prefix: string,
    shapes: SlotShapes,
  ) {
    const curvature = curvatureOptions(options);
    const invUpdateFreq = checkNumber('invUpdateFreq', options.invUpdateFreq ?? 1, positiveInteger);
    const linalg = checkChoice('linalg', options.linalg ?? 'host', ['host', 'newton'] as const);
    super(model, base, options, statistics);
    this.curvature = curvature;
    this.invUpdateFreq = invUpdateFreq;
    this.linalg = linalg;
    this.state = new StateSlots(owner, prefix, this.layers, shapes);
  }

  /** Resolves damping and factor decay for `step` (subclasses add their own). */
  protected resolveFactorStep(step: number): FactorStep {
    return resolveCurvature(this.curvature, step);
  }

  /** Whether the inverses are recomputed on (0-based) step `step`. */
  protected isInverseStep(step: number): boolean {
    return step % this.invUpdateFreq === 0;
  }

  /** Recomputes the damped inverses of `layer` from its current factors. */
  protected abstract updateInverses(layer: CapturedLayer, hyperparameters: H): void;

  /** Whether `layer` has its factors (inverses can be computed). */
  protected abstract hasFactors(layer: CapturedLayer): boolean;

  protected override updateState(gradients: GradientEntry[], hyperparameters: H): void {
    const step = this.iterations;
    super.updateState(gradients, hyperparameters);
    if (!this.isInverseStep(step)) return;
    let updated = false;
    for (const layer of this.layers) {
      if (!this.hasFactors(layer)) continue;
      this.updateInverses(layer, hyperparameters);
      updated = true;
    }
    if (updated) this.inverseUpdates += 1;
  }
}
