/**
 * Learning-rate schedules: warm-up followed by a decay, as functions of the step, plus the
 * plumbing that drives an optimizer's learning rate from one (in custom loops or as a
 * `model.fit` callback). The lr inside KL clipping follows, since it is read from the base.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Learning rate as a function of the (0-based) step. */
export type LearningRateSchedule = (step: number) => number;

/** Decay shapes after warm-up. */
export type DecayKind = 'constant' | 'linear' | 'cosine' | 'polynomial' | 'step';

/** Options of {@link warmupDecaySchedule}. */
export interface WarmupDecayOptions {
  /** Peak learning rate reached at the end of warm-up. */
  learningRate: number;
  /** Total training steps (the decay ends there). */
  totalSteps: number;
  /** Linear warm-up steps from `learningRate / warmupSteps` (default 0). */
  warmupSteps?: number;
  decay?: DecayKind;
  /** Final learning rate as a fraction of the peak (default 0). */
  finalFraction?: number;
  /** Exponent of the polynomial decay (default 2). */
  power?: number;
  /** Step decay: multiply by `gamma` at each of these steps (default 0.1). */
  milestones?: number[];
  gamma?: number;
}

/** Warm-up followed by constant, linear, cosine, polynomial or step decay. */
export function warmupDecaySchedule(options: WarmupDecayOptions): LearningRateSchedule {
  const { learningRate: peak, totalSteps } = options;
  const warmup = options.warmupSteps ?? 0;
  const decay = options.decay ?? 'linear';
  const floor = peak * (options.finalFraction ?? 0);
  if (!(peak > 0)) throw new Error(`schedule: learningRate must be > 0, got ${peak}`);
  if (!(totalSteps >= 1)) throw new Error(`schedule: totalSteps must be >= 1, got ${totalSteps}`);
  if (!(warmup >= 0 && warmup < totalSteps)) {
    throw new Error(`schedule: warmupSteps must be in [0, totalSteps), got ${warmup}`);
  }
  return (step) => {
    if (step < warmup) return (peak * (step + 1)) / warmup;
    const progress = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
    switch (decay) {
      case 'constant':
        return peak;
      case 'linear':
        return floor + (peak - floor) * (1 - progress);
      case 'cosine':
        return floor + ((peak - floor) * (1 + Math.cos(Math.PI * progress))) / 2;
      case 'polynomial':
        return floor + (peak - floor) * (1 - progress) ** (options.power ?? 2);
      case 'step': {
        const passed = (options.milestones ?? []).filter((m) => step >= m).length;
        return peak * (options.gamma ?? 0.1) ** passed;
      }
    }
  };
}

/** Sets the learning rate of a tfjs or eva-tfjs optimizer (wrappers forward to their base). */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  const target = optimizer as unknown as {
    setLearningRate?: (lr: number) => void;
    base?: tf.Optimizer;
    inner?: tf.Optimizer;
    learningRate?: number;
  };
  if (target.base != null && target.base instanceof tf.Optimizer) {
    setLearningRate(target.base, learningRate);
  } else if (target.inner != null && target.inner instanceof tf.Optimizer) {
    setLearningRate(target.inner, learningRate);
  } else if (typeof target.setLearningRate === 'function') {
    target.setLearningRate(learningRate);
  } else if (typeof target.learningRate === 'number') {
    target.learningRate = learningRate;
  } else {
    throw new Error(`setLearningRate: ${optimizer.getClassName()} has no learning rate to set`);
  }
}
