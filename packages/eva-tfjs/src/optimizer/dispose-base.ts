/**
 * Disposing a wrapped tfjs optimizer completely. tfjs 4.22's `MomentumOptimizer.dispose()`
 * overrides `SGDOptimizer.dispose()` without calling it, so the kept learning-rate scalar `c`
 * of every momentum optimizer leaks; this releases it too. Drop the workaround once tfjs fixes it.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Disposes `optimizer` and, for tfjs's momentum optimizer, the scalar its dispose forgets. */
export function disposeBaseOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  // (Not `instanceof`: tfjs's Optimizer.hasInstance accepts every optimizer.)
  if (optimizer.getClassName() === tf.MomentumOptimizer.className) {
    const forgotten = (optimizer as unknown as { c?: tf.Tensor }).c;
    if (forgotten != null && !forgotten.isDisposed) forgotten.dispose();
  }
}
