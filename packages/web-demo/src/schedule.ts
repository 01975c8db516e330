/**
 * The learning-rate schedule of a run: linear warm-up over the first steps, then the peak
 * (each optimizer's own learning rate) held constant or decayed linearly to zero at the last
 * step, through the library's `warmupDecaySchedule`.
 */
import { warmupDecaySchedule, type LearningRateSchedule } from 'eva-tfjs';

/** What follows the warm-up. */
export const DECAYS = ['constant', 'linear'] as const;
/** What follows the warm-up: the peak held, or a linear decay to zero at the last step. */
export type Decay = (typeof DECAYS)[number];

/** The schedule's settings, shared by every optimizer of a comparison. */
export interface ScheduleSettings {
  /** Steps of linear warm-up from `peak / warmupSteps` to the peak (0: none). */
  warmupSteps: number;
  decay: Decay;
  /** The run's length in steps (where a linear decay ends). */
  totalSteps: number;
}

/**
 * The learning rate at each (0-based) step below `settings.totalSteps` for peak `peak`. The
 * warm-up does not depend on the run's length: a run shorter than its warm-up ends while the
 * learning rate is still rising (and has no decay).
 */
export function scheduleFor(peak: number, settings: ScheduleSettings): LearningRateSchedule {
  const warmupSteps = Math.max(0, Math.round(settings.warmupSteps));
  const totalSteps = Math.max(1, Math.round(settings.totalSteps), warmupSteps + 1);
  return warmupDecaySchedule({
    learningRate: peak,
    totalSteps,
    warmupSteps,
    decay: settings.decay,
  });
}
