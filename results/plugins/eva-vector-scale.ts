/**
 * A `--plugin` for the experiment CLI (results/run-all.sh, stage `ablation`): Eva whose running
 * gradient vector `g` is multiplied by `--vector-scale` before it enters the state. Scale 1 is
 * Eva; scale 0 removes Eva's curvature term, so the preconditioned gradient is `G / damping`
 * with Eva's KL clipping: the ablation that tells how much of Eva's result comes from its
 * Kronecker vectors and how much from the clipped, normalised step.
 */
import { evaAlgorithm, registerOptimizer } from 'eva-tfjs';
import { withScaledVector } from './scaled-vector.js';

registerOptimizer({
  name: 'eva-vector-scale',
  description: 'Eva with its gradient vector scaled by vectorScale (0: G / damping, KL-clipped)',
  algorithm: withScaledVector(
    evaAlgorithm,
    'EvaVectorScale',
    'gradient',
    'vectorScale',
    "multiplies Eva's running gradient vector g (0: no curvature term)",
  ),
  testing: { learningRate: 0.05 },
});
