/**
 * Damping-dominated inverses by a truncated Neumann series: with `E = M / damping` and
 * `rho = |M|_F / damping >= |E|_2`,
 *
 *     (M + damping I)^-1 = (I + E)^-1 / damping = (I - E + E^2 - ...) / damping,
 *
 * and stopping after the `E^K` term leaves a relative error of at most
 * `rho^(K+1) (1 + rho) / (1 - rho)` (2-norm, for any symmetric `M`). When that bound is below
 * {@link NEUMANN_TOLERANCE} (float32 round-off) the series is as exact as any float32 route:
 * `K = 1` (`rho` up to about 3.2e-4) is elementwise, `K = 2` (up to about 4.6e-3) one matrix
 * product, without the block factorisation's slices and assembly (bench/linalg.md).
 *
 * This is K-FAC's usual regime: its Kronecker factor `Gf` carries the squared `1/batch` of a mean
 * loss, so with the damping split between the factors both `A + sqrt(gamma) pi I` and
 * `Gf + sqrt(gamma) / pi I` are dominated by their damping (`rho` about 1e-4 to 1e-2 on the
 * paper's autoencoder, bench/linalg.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import { symmetricPart } from './symmetric-part.js';

/** The largest truncation-error bound accepted: about float32's relative round-off. */
export const NEUMANN_TOLERANCE = 1e-7;

/** The bound on the relative error of the series cut after `E^terms`, given `rho`. */
export function neumannErrorBound(rho: number, terms: number): number {
  return rho >= 0 && rho < 1 ? (rho ** (terms + 1) * (1 + rho)) / (1 - rho) : Infinity;
}

/**
 * The fewest terms (1 or 2) for which the truncated series is within {@link NEUMANN_TOLERANCE}
 * of `(M + damping I)^-1`, given `rho = |M|_F / damping`; null when more would be needed (or
 * `rho` is NaN): then a factorisation is cheaper.
 */
export function neumannTerms(rho: number): 1 | 2 | null {
  if (neumannErrorBound(rho, 1) <= NEUMANN_TOLERANCE) return 1;
  if (neumannErrorBound(rho, 2) <= NEUMANN_TOLERANCE) return 2;
  return null;
}

/**
 * `(I - E + ... + (-E)^terms) / damping` with `E = M / damping`, for a symmetric `M`, on the
 * tensor backend; exactly symmetric (`E^2` is symmetrised).
 */
export function neumannInverse(symmetric: tf.Tensor2D, damping: number, terms: 1 | 2): tf.Tensor2D {
  return tf.tidy(() => {
    const e = tf.div(symmetric, damping) as tf.Tensor2D;
    let series = tf.sub(tf.eye(symmetric.shape[0]), e);
    if (terms === 2) series = tf.add(series, symmetricPart(tf.matMul(e, e)));
    return tf.div(series, damping) as tf.Tensor2D;
  });
}
