/**
 * The non-finite policy every optimizer of the library applies: one scalar host read per step
 * tells whether the gradients (and statistics) are all finite; a non-finite step is skipped
 * (weights and state unchanged, counted, warned once) or throws, per `onNonFinite`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NonFinitePolicy } from './options.js';

/** One scalar host read: are all `tensors` finite? */
export function allFinite(tensors: readonly tf.Tensor[]): boolean {
  if (tensors.length === 0) return true;
  // Scalars (the gradients' squared norms) enter the sum as they are: no launch per scalar.
  const total = tf.tidy(() => tf.addN(tensors.map((t) => (t.rank === 0 ? t : tf.sum(t)))));
  const value = total.dataSync()[0]!;
  total.dispose();
  return Number.isFinite(value);
}

/** Applies the policy and counts skipped steps. */
export class NonFiniteGuard {
  /** Steps skipped because of non-finite gradients or statistics. */
  skippedSteps = 0;
  private warned = false;

  constructor(
    private readonly owner: string,
    private readonly policy: NonFinitePolicy,
  ) {}

  /**
   * Whether the step may go on: true when every tensor is finite; otherwise throws (`'throw'`)
   * or counts the skipped step and returns false (`'skip'`).
   */
  admit(step: number, tensors: readonly tf.Tensor[]): boolean {
    if (allFinite(tensors)) return true;
    if (this.policy === 'throw') {
      throw new Error(`${this.owner}: non-finite gradients or statistics at step ${step}`);
    }
    this.skippedSteps += 1;
    if (!this.warned) {
      this.warned = true;
      console.warn(
        `${this.owner}: skipped step ${step}: non-finite gradients or statistics ` +
          '(weights and optimizer state unchanged; counted in skippedSteps; warned once)',
      );
    }
    return false;
  }
}
