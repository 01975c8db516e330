/**
 * A `--plugin` for the experiment CLI (results/run-all.sh, stage `ablation`): Eva whose running
 * gradient vector `g` is multiplied by `--vector-scale` before it enters the state. Scale 1 is
 * Eva; scale 0 removes Eva's curvature term, so the preconditioned gradient is `G / damping`
 * with Eva's KL clipping: the ablation that tells how much of Eva's result comes from its
 * Kronecker vectors and how much from the clipped, normalised step.
 */
import * as tf from '@tensorflow/tfjs';
import {
  CURVATURE_OPTIONS,
  defineOptions,
  evaAlgorithm,
  KL_CLIP_OPTION,
  nonNegative,
  registerOptimizer,
  type LayerwiseAlgorithm,
  type StateSlots,
} from 'eva-tfjs';

const options = defineOptions({
  ...CURVATURE_OPTIONS,
  ...KL_CLIP_OPTION,
  vectorScale: {
    kind: 'number',
    default: 1,
    constraint: nonNegative,
    description: "multiplies Eva's running gradient vector g (0: no curvature term)",
  },
});

const evaVectorScale: LayerwiseAlgorithm<typeof options, StateSlots> = {
  ...evaAlgorithm,
  name: 'EvaVectorScale',
  options,
  updateStatistics(state, layer, statistics, step) {
    const scaled = tf.mul(statistics.gradient, step.vectorScale);
    evaAlgorithm.updateStatistics(state, layer, { ...statistics, gradient: scaled }, step);
    scaled.dispose();
  },
};

registerOptimizer({
  name: 'eva-vector-scale',
  description: "Eva with its gradient vector scaled by vectorScale (0: G / damping, KL-clipped)",
  algorithm: evaVectorScale,
  testing: { learningRate: 0.05 },
});
