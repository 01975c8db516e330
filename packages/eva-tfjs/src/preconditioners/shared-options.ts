/**
 * Option declarations several algorithms share: curvature (damping, factor decay), the inverse
 * interval and route (of inverse roots; of factor inverses), KL clipping and KL normalisation.
 * Defaults are the authors' reference code's, except the factor inverses' route.
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

const INVERSE_INTERVAL_OPTION = defineOptions({
  invUpdateFreq: {
    kind: 'number',
    default: 1,
    constraint: positiveInteger,
    description: 'inverse/root interval (steps)',
  },
});

/** The interval and route of the expensive inverse-root work (Shampoo). */
export const INVERSE_OPTIONS = defineOptions({
  ...INVERSE_INTERVAL_OPTION,
  linalg: {
    kind: 'choice',
    default: 'host',
    choices: ['host', 'newton'],
    description: "inverse route: 'host' float64 factorisation or 'newton' iteration on tf ops",
  },
});

/**
 * The interval and route of the damped inverses of K-FAC's and FOOF's factors: `'blocked'` (the
 * default) recursive blocks with float32 products on the tensor backend and small blocks in
 * float64 on the host, `'host'` float64 Cholesky, `'newton'` Newton-Schulz on tf ops
 * (src/linalg/spd-inverse.ts, bench/linalg.md); or, with `inverseWorker`, float64 Cholesky on a
 * worker thread, one refresh late (src/optimizer/deferred-matrix-functions.ts).
 */
export const FACTOR_INVERSE_OPTIONS = defineOptions({
  ...INVERSE_INTERVAL_OPTION,
  inverseWorker: {
    kind: 'boolean',
    default: false,
    description:
      "inverses by float64 Cholesky on a worker thread (Node; replaces linalg's route), " +
      'taking effect one refresh later; pays off at intervals such as 10',
  },
  linalg: {
    kind: 'choice',
    default: 'blocked',
    choices: ['host', 'newton', 'blocked'],
    description:
      "inverse route: 'blocked' float32 block products on the backend, 'host' float64 " +
      "Cholesky, 'newton' iteration on tf ops",
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
