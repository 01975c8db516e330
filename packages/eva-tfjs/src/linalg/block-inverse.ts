/**
 * The inverse of a symmetric positive definite matrix by a recursive 2x2 block Cholesky
 * factorisation, with its large products on the tensor backend's matmul and small diagonal
 * blocks factored exactly on the host.
 *
 * With `S = [[S11, S12], [S21, S22]] = L L^T`, `U = L^-T` (upper triangular) and
 * `X = S^-1 = U U^T`:
 *
 *     U11, X11 = recursion on S11         L21 = S21 U11           (= S21 L11^-T)
 *     C = S22 - L21 L21^T                 (the Schur complement, SPD whenever S is)
 *     UC, XC   = recursion on C           Zt = U11 L21^T          (= S11^-1 S12)
 *     X12 = -Zt XC
 *     X = [[X11 - Zt X12^T, X12],         U = [[U11, -Zt UC],
 *          [X12^T,          XC ]]              [0,    UC   ]]
 *
 * `U` is only assembled where a parent needs it. Each level costs five or six half-size
 * products, about `n^3` multiply-adds in all, like LAPACK's Cholesky inverse (potrf + potri).
 * Only the diagonal blocks and `S21` of each matrix are read (the upper blocks never are).
 * Blocks of at most `leafSize` rows are read back (a host sync per leaf) and factored in
 * float64 ({@link choleskyLower}, {@link lowerTriangularInverse}, {@link lowerGram}).
 *
 * Precision: the products, Schur complements and the assembled result are float32 on the
 * backend. The Schur complement is formed as a Gram product `L21 L21^T`, as a Cholesky
 * factorisation forms it, which keeps the error within a few times that of a float32 Cholesky
 * inverse (bench/linalg.md); forming it as `S21 S11^-1 S12` from an explicit `S11^-1` was about
 * 100 times less accurate on K-FAC's factors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { choleskyLower, lowerGram, lowerTriangularInverse } from './cholesky.js';
import { symmetricLowerFloat64 } from './symmetric-part.js';

/** The default largest diagonal block factored on the host (tuned in bench/linalg.md). */
export const DEFAULT_LEAF_SIZE = 64;

/** Thrown inside the recursion when a diagonal block is not numerically positive definite. */
class NotPositiveDefinite extends Error {}

/** One recursion's results: `S^-1` and, when asked for, the factor `U = L^-T` with `S^-1 = U U^T`. */
interface BlockResult {
  inverse: tf.Tensor2D;
  inverseFactor: tf.Tensor2D | null;
}

/**
 * `S^-1` of a symmetric positive definite `S` by a recursive block Cholesky factorisation (see
 * the module comment), or null when a diagonal block or Schur complement is not numerically
 * positive definite (S not PD, or so badly conditioned that float32 round-off made it
 * indefinite): the caller then needs a route that copes, e.g. float64 on the host. The result
 * is symmetric up to float32 round-off (symmetrise it when exact symmetry matters). Leaks
 * nothing on either outcome.
 *
 * @param s square, symmetric positive definite (only `S21`, the lower blocks, and the diagonal
 *   blocks are read)
 * @param leafSize the largest diagonal block factored on the host (a positive integer)
 */
export function spdBlockInverse(
  s: tf.Tensor2D,
  leafSize: number = DEFAULT_LEAF_SIZE,
): tf.Tensor2D | null {
  const [n, cols] = s.shape;
  if (n !== cols) throw new Error(`Expected a square matrix, got shape [${s.shape}]`);
  if (!Number.isInteger(leafSize) || leafSize < 1) {
    throw new Error(`The leaf size of a block inverse must be a positive integer, got ${leafSize}`);
  }
  try {
    return blockInverse(s, leafSize, false).inverse;
  } catch (error) {
    if (error instanceof NotPositiveDefinite) return null;
    throw error;
  }
}

function blockInverse(s: tf.Tensor2D, leafSize: number, needFactor: boolean): BlockResult {
  const n = s.shape[0];
  if (n <= leafSize) return leafInverse(s, needFactor);
  const n1 = Math.floor(n / 2);
  const n2 = n - n1;
  const [inverse, inverseFactor] = tf.tidy(() => {
    const top = blockInverse(tf.slice(s, [0, 0], [n1, n1]), leafSize, true);
    const u11 = top.inverseFactor!;
    const l21 = tf.matMul(tf.slice(s, [n1, 0], [n2, n1]), u11);
    // -L21^T once, so no product needs a transpose flag (slow on wasm, docs/tfjs-notes.md) and
    // no other result needs negating.
    const negativeL21t = tf.neg(tf.transpose(l21));
    const schur = tf.add(tf.slice(s, [n1, n1], [n2, n2]), tf.matMul(l21, negativeL21t));
    const bottom = blockInverse(schur as tf.Tensor2D, leafSize, needFactor);
    const negativeZt = tf.matMul(u11, negativeL21t);
    const x12 = tf.matMul(negativeZt, bottom.inverse);
    const x21 = tf.transpose(x12);
    // X12 Zt^T = Zt X21 (both are -Zt XC Zt^T).
    const x11 = tf.add(top.inverse, tf.matMul(negativeZt, x21));
    const x = tf.concat([tf.concat([x11, x12], 1), tf.concat([x21, bottom.inverse], 1)], 0);
    if (!needFactor) return [x as tf.Tensor2D];
    const uc = bottom.inverseFactor!;
    const u12 = tf.matMul(negativeZt, uc);
    const u = tf.concat([tf.concat([u11, u12], 1), tf.concat([tf.zeros([n2, n1]), uc], 1)], 0);
    return [x as tf.Tensor2D, u as tf.Tensor2D];
  });
  return { inverse: inverse!, inverseFactor: inverseFactor ?? null };
}

/** A diagonal block factored in float64 on the host (reads it back: a sync). */
function leafInverse(block: tf.Tensor2D, needFactor: boolean): BlockResult {
  const n = block.shape[0];
  const l = choleskyLower(symmetricLowerFloat64(block.dataSync(), n), n);
  if (l == null) throw new NotPositiveDefinite();
  const m = lowerTriangularInverse(l, n);
  return {
    inverse: tf.tensor2d(Float32Array.from(lowerGram(m, n)), [n, n]),
    inverseFactor: needFactor ? tf.tensor2d(Float32Array.from(transposed(m, n)), [n, n]) : null,
  };
}

/** The transpose of a square row-major matrix. */
function transposed(m: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = m[i * n + j]!;
  return t;
}
