/**
 * A running average of a tensor statistic, as the reference code keeps its Kronecker vectors
 * and factors: `m = (1 - decay) * m + decay * new`, the first value taken as is.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A kept tensor updated by exponential averaging; owns its value. */
export class RunningAverage {
  private current: tf.Tensor | null = null;

  /** The averaged value, or null before the first update. */
  get value(): tf.Tensor | null {
    return this.current;
  }

  /** Folds in `next` (not taken over: the caller still owns it) with weight `decay`. */
  update(next: tf.Tensor, decay: number): void {
    const previous = this.current;
    this.current = tf.keep(
      previous == null
        ? tf.clone(next)
        : tf.tidy(() => tf.add(tf.mul(previous, 1 - decay), tf.mul(next, decay))),
    );
    previous?.dispose();
  }

  /** Replaces the value (e.g. when restoring state); takes a copy. */
  set(value: tf.Tensor): void {
    const previous = this.current;
    this.current = tf.keep(tf.clone(value));
    previous?.dispose();
  }

  dispose(): void {
    this.current?.dispose();
    this.current = null;
  }
}
