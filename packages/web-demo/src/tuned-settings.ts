/**
 * The demo's measured defaults, in one place: each optimizer's tuned learning rate for each
 * model (an optimizer's learning-rate control starts at it, marked "tuned"; one without an
 * entry, e.g. registered later, starts at its registry test value, marked "untuned"), and the
 * default run: batch size, length, warm-up, decay and the readout's target loss. Each number
 * says where it comes from; `scripts/train-in-node.ts` runs the demo's own training in Node.
 */
import { optimizerEntry } from 'eva-tfjs';
import type { ModelKind } from './runs.js';
import type { Decay } from './schedule.js';

/** A tuned learning rate and where it was measured. */
export interface TunedLearningRate {
  learningRate: number;
  /** The measurement it comes from (shown as the "tuned" mark's tooltip). */
  source: string;
}

/**
 * A learning rate from the demo's own sweep: `scripts/train-in-node.ts [--model mlp] --warmup
 * 150 --steps <steps> --sweep <tried>` (the demo's batches, options and warm-up), the one with
 * the lowest mean loss over the last 10 steps.
 */
function swept(
  learningRate: number,
  model: ModelKind,
  steps: number,
  tried: string,
): TunedLearningRate {
  return {
    learningRate,
    source: `train-in-node.ts${model === 'mlp' ? ' --model mlp' : ''}, ${steps} steps: best of ${tried}`,
  };
}

/** The tuned learning rates by model and optimizer name. */
export const TUNED_LEARNING_RATES: Readonly<
  Record<ModelKind, Readonly<Record<string, TunedLearningRate>>>
> = {
  autoencoder: {
    // Final losses 0.577, 0.611, 0.716. results/autoencoder-mnist-sgd-lr found 1 the best of
    // 0.1, 0.3, 1 at batch 1000 (80 steps); at the demo's batch of 100, 0.3 does better.
    sgd: swept(0.3, 'autoencoder', 400, '0.3, 1, 2'),
    adagrad: {
      learningRate: 0.003,
      source: 'results/autoencoder-mnist-adagrad-lr: best of 0.003, 0.01, 0.03',
    },
    // Final losses 0.680, 0.593, 0.505, 0.525 (AdamW: 0.611, 0.446, 0.357, 0.357).
    adam: swept(0.001, 'autoencoder', 200, '0.0001, 0.0003, 0.001, 0.003'),
    adamw: swept(0.001, 'autoencoder', 200, '0.0001, 0.0003, 0.001, 0.003'),
    // The paper's value; at the demo's settings 0.05 and 0.1 tie (0.350, 0.354 after 400
    // steps) and 0.2 jumps to 1.9x its first loss at step 20.
    eva: { learningRate: 0.1, source: 'results/autoencoder-mnist-eva-lr: best of 0.1, 0.3, 1' },
    // KL-normalised steps: every value jumps early (1.9x, 3.2x, 2300x at 0.3).
    evaf: swept(0.03, 'autoencoder', 200, '0.03, 0.1, 0.3'),
    // Grafted to SGD's step size per tensor, so SGD-like values: final losses 0.624, 0.713.
    evas: swept(0.3, 'autoencoder', 200, '0.3, 1'),
    // Final losses 0.566, 0.563, 0.618 (0.3 jumps to 5.7x).
    kfac: swept(0.1, 'autoencoder', 200, '0.03, 0.1, 0.3'),
    // Final losses 0.496, 0.395, 1.52; 0.03 and 0.1 jump early too (13.6x, 2.4x).
    foof: swept(0.1, 'autoencoder', 200, '0.03, 0.1, 0.3'),
    // Grafted like Eva-s: final losses 0.381, 0.346 (results/autoencoder-mnist used 1 too).
    shampoo: swept(1, 'autoencoder', 200, '0.3, 1'),
    // 0.01 and 0.1 diverge (the demo's M-FAC keeps a window of 8 gradients).
    mfac: swept(0.001, 'autoencoder', 200, '0.001, 0.01, 0.1'),
  },
  mlp: {
    // Final losses 0.067, 0.034, 2.31.
    sgd: swept(0.1, 'mlp', 300, '0.03, 0.1, 0.3'),
    adam: swept(0.003, 'mlp', 300, '0.001, 0.003, 0.01'),
    adamw: swept(0.003, 'mlp', 300, '0.001, 0.003, 0.01'),
    // Final losses 0.052, 0.106, 0.175 (K-FAC: 0.068, 0.129, 0.099).
    eva: swept(0.003, 'mlp', 300, '0.003, 0.01, 0.03'),
    kfac: swept(0.003, 'mlp', 300, '0.003, 0.01, 0.03'),
  },
};

/** The learning rate `optimizer`'s control starts at for `model`, and whether it was tuned. */
export function initialLearningRateOf(
  optimizer: string,
  model: ModelKind,
): { value: number; tuned?: TunedLearningRate } {
  const tuned = TUNED_LEARNING_RATES[model][optimizer];
  return tuned != null
    ? { value: tuned.learningRate, tuned }
    : { value: optimizerEntry(optimizer).testing.learningRate };
}

/** The learning rate `optimizer`'s control starts at for `model`. */
export function initialLearningRate(optimizer: string, model: ModelKind): number {
  return initialLearningRateOf(optimizer, model).value;
}

/** The form's starting values (the URL may override them). */
export interface DefaultSettings {
  batch: number;
  /** Steps per optimizer of the default run. */
  steps: number;
  warmupSteps: number;
  decay: Decay;
  /** The readout's target loss for each model. */
  target: Readonly<Record<ModelKind, number>>;
}

/**
 * The demo's defaults, measured with scripts/train-in-node.ts (SGD and Eva on the autoencoder,
 * batch 100, their tuned learning rates; the browser's wasm backend gives the same losses):
 * - warm-up: Eva's loss leaves its starting plateau (~1.0) around step 10-30 whatever the
 *   warm-up, and jumps there unless the learning rate is still small (~0.015). The highest loss
 *   after the first step, as a multiple of the first, for warm-ups of 0, 30, 60, 100, 150, 200
 *   and 300 steps: 4.24, 1.28, 6.48, 1.33, 1.02, 1.09, 1.04 (SGD at lr 1: at most 1.06).
 * - steps: with that warm-up, the mean loss of the last 10 steps after 400 steps is 0.35 for Eva
 *   and 0.58 for SGD (Eva at 800 steps: 0.27); Eva's reconstructions are digits by then, SGD's
 *   are blurs.
 * - target: 0.6, about SGD's loss at the end of the default run (it reaches it at step 265, Eva
 *   at step 147).
 */
export const DEFAULT_SETTINGS: DefaultSettings = {
  batch: 100,
  steps: 400,
  warmupSteps: 150,
  decay: 'constant',
  target: { autoencoder: 0.6, mlp: 0.1 },
};
