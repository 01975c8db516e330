/**
 * KL clipping (paper Eq. 16), shared by Eva and K-FAC: every preconditioned gradient is scaled
 * by `nu = min(1, sqrt(klClip / (lr^2 * sum_l p_l . g_l)))` (1 when the sum is not positive).
 * `klClip = 0` rescales to the gradient norm instead (`nu = |g| / |p|`), `null` disables it.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Sums over all preconditioned layers that the clipping factor needs. */
export interface KlSums {
  /** `sum_l p_l . g_l` (the "KL size" without the lr^2 factor). */
  preconditionedDotGradient: tf.Scalar;
  /** `sum_l |g_l|^2`; needed only for `klClip = 0`. */
  gradientSquaredNorm: tf.Scalar;
  /** `sum_l |p_l|^2`; needed only for `klClip = 0`. */
  preconditionedSquaredNorm: tf.Scalar;
}

/** The factor every preconditioned gradient is multiplied by (a scalar tensor, no host read). */
export function klClipScale(sums: KlSums, learningRate: number, klClip: number | null): tf.Scalar {
  return tf.tidy((): tf.Scalar => {
    if (klClip == null) return tf.scalar(1);
    if (klClip === 0) {
      const ratio = tf.div(sums.gradientSquaredNorm, sums.preconditionedSquaredNorm);
      const positive = tf.greater(sums.preconditionedSquaredNorm, 0);
      return tf.where(positive, tf.sqrt(ratio), tf.scalar(1)) as tf.Scalar;
    }
    const vg = tf.mul(sums.preconditionedDotGradient, learningRate * learningRate);
    const positive = tf.greater(vg, 0);
    const safe = tf.where(positive, vg, tf.onesLike(vg));
    const nu = tf.minimum(tf.scalar(1), tf.sqrt(tf.div(klClip, safe)));
    return tf.where(positive, nu, tf.scalar(1)) as tf.Scalar;
  });
}

/**
 * KL normalisation of Eva-f and FOOF: `1 / sqrt(sum_l p_l . g_l)`, or 1 when the sum is not
 * positive (no threshold, no learning rate).
 */
export function klNormalizationScale(preconditionedDotGradient: tf.Scalar): tf.Scalar {
  return tf.tidy((): tf.Scalar => {
    const positive = tf.greater(preconditionedDotGradient, 0);
    const safe = tf.where(
      positive,
      preconditionedDotGradient,
      tf.onesLike(preconditionedDotGradient),
    );
    return tf.where(positive, tf.rsqrt(safe), tf.scalar(1)) as tf.Scalar;
  });
}
