/**
 * How far a training-loss curve climbs back up: the largest ratio of a mean loss over
 * {@link SMOOTHING_STEPS} steps to the lowest such mean before it. A curve that only falls has
 * rise 1; a spike after the loss has already fallen (which a "highest loss against the first"
 * measure misses) shows as more than 1.
 */
import { SMOOTHING_STEPS } from './target-readout.js';

/** The largest rise of a loss curve and the (1-based) step where the risen mean ends. */
export interface LossRise {
  /** Highest windowed mean over the lowest windowed mean before it (1: never rises). */
  ratio: number;
  /** The step whose window gives that mean (0 when the curve never rises). */
  step: number;
}

/**
 * The largest rise of `losses` (one loss per step) over windows of `window` steps; a
 * non-finite loss is an infinite rise at its step.
 */
export function largestRise(losses: readonly number[], window: number = SMOOTHING_STEPS): LossRise {
  if (!Number.isInteger(window) || window < 1) {
    throw new Error(`largestRise: window must be a whole number >= 1, got ${window}`);
  }
  let worst: LossRise = { ratio: 1, step: 0 };
  let lowest = Infinity;
  let sum = 0;
  for (let i = 0; i < losses.length; i++) {
    const loss = losses[i]!;
    if (!Number.isFinite(loss)) return { ratio: Infinity, step: i + 1 };
    sum += loss - (i >= window ? losses[i - window]! : 0);
    if (i + 1 < window) continue;
    const mean = sum / window;
    if (mean / lowest > worst.ratio) worst = { ratio: mean / lowest, step: i + 1 };
    lowest = Math.min(lowest, mean);
  }
  return worst;
}
