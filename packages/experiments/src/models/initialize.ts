/**
 * Seeded initialisation with PyTorch's default for `nn.Linear`/`nn.Conv2d` (what the reference
 * runs use): kernel and bias uniform in `+-1/sqrt(fanIn)`, fanIn = product of the kernel's
 * input dimensions. BatchNorm and other weights keep their tfjs initial values. Same seed,
 * same weights for every optimizer.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Re-initialises every kernel and its bias of `model` from `seed`. */
export function initializeLikePyTorch(model: tfl.LayersModel, seed: number): void {
  tf.tidy(() => {
    let fanIn = 0;
    let kernelLayer = '';
    model.weights.forEach((w, i) => {
      const name = w.originalName;
      const layer = name.slice(0, name.lastIndexOf('/'));
      let initialise = false;
      if (name.endsWith('/kernel') && w.shape.length >= 2) {
        fanIn = (w.shape.slice(0, -1) as number[]).reduce((a, b) => a * b, 1);
        kernelLayer = layer;
        initialise = true;
      } else if (name.endsWith('/bias') && layer === kernelLayer) {
        initialise = true;
      }
      if (!initialise) return;
      const bound = 1 / Math.sqrt(fanIn);
      w.write(tf.randomUniform(w.shape as number[], -bound, bound, 'float32', seed * 7919 + i));
    });
  });
}
