/**
 * Option declarations several algorithms share: curvature (damping, factor decay), the inverse
 * interval and route, KL clipping and KL normalisation. Defaults are the authors' reference code's.
 */
import {
  defineOptions,
  nonNegative,
  positive,
  positiveInteger,
  unitInterval,
} from '../optimizer/options.js';

/** Damping and the running-average weight of new statistics. */
export const CURVATURE_OPTIONS = defineOptions({
  damping: {
    kind: 'schedule',
    default: 0.03,
    constraint: positive,
    description: 'damping gamma',
  },
  factorDecay: {
    kind: 'schedule',
    default: 0.95,
    constraint: unitInterval,
    description: 'running-average weight of new statistics',
  },
});

/** The interval and route of the expensive inverse work (K-FAC, FOOF). */
export const INVERSE_OPTIONS = defineOptions({
  invUpdateFreq: {
    kind: 'number',
    default: 1,
    constraint: positiveInteger,
    description: 'inverse/root interval (steps)',
  },
  linalg: {
    kind: 'choice',
    default: 'host',
    choices: ['host', 'newton'],
    description: "inverse route: 'host' float64 factorisation or 'newton' iteration on tf ops",
  },
});

/** KL clipping (paper Eq. 16). */
export const KL_CLIP_OPTION = defineOptions({
  klClip: {
    kind: 'schedule',
    default: 0.001,
    constraint: nonNegative,
    nullable: true,
    description: 'KL-clipping threshold (0: rescale to the gradient norm; null: off)',
  },
});

/** KL normalisation `P / sqrt(sum P . G)` (Eva-f, FOOF). */
export const KL_NORMALIZE_OPTION = defineOptions({
  klNormalize: {
    kind: 'boolean',
    default: true,
    description: 'KL normalisation P / sqrt(sum P . G)',
  },
});
