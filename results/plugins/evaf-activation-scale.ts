/**
 * A `--plugin` for the experiment CLI (results/run-all.sh, stage `ablation`): Eva-f whose running
 * activation vector `a` is multiplied by `--activation-scale` before it enters the state. Scale 1
 * is Eva-f; scale 0 removes Eva-f's curvature term (the projection of the gradient off `a`), so
 * the preconditioned gradient is `G / damping` with Eva-f's KL normalisation, i.e. SGD with a
 * normalised step: the ablation that tells how much of Eva-f's result comes from its vector.
 */
import { evaFAlgorithm, registerOptimizer } from 'eva-tfjs';
import { withScaledVector } from './scaled-vector.js';

registerOptimizer({
  name: 'evaf-activation-scale',
  description:
    "Eva-f with its activation vector scaled by activationScale (0: G / damping, KL-normalised)",
  algorithm: withScaledVector(
    evaFAlgorithm,
    'EvaFActivationScale',
    'activation',
    'activationScale',
    "multiplies Eva-f's running activation vector a (0: no curvature term)",
  ),
  testing: { learningRate: 0.05 },
});
