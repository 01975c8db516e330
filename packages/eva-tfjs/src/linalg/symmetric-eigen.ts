/**
 * Dense float64 symmetric eigendecomposition on flat row-major `Float64Array`s: Householder
 * reduction to tridiagonal form, then the implicit QL iteration with Wilkinson-type shifts
 * (the textbook algorithm, e.g. Golub & Van Loan ch. 8.3). The loops run over contiguous rows:
 * the reduction reads and updates only the upper triangle, the eigenvectors are kept as ROWS
 * (a QL rotation mixes two adjacent rows) and each QL sweep's rotations are applied together,
 * a few columns at a time. ml-matrix's `EigenvalueDecomposition` computes the same thing through
 * per-element accessors and column-wise loops and is several times slower (bench/linalg.md);
 * it stays the independent reference in the tests.
 */

/** Eigenvalues and orthonormal eigenvectors of a symmetric matrix. */
export interface SymmetricEigen {
  /** The order of the matrix. */
  readonly n: number;
  /** The eigenvalues, ascending. */
  readonly values: Float64Array;
  /**
   * Row-major `n x n`: ROW k (`vectors[k * n + i]`, i < n) is the unit eigenvector of
   * `values[k]`, so `A = sum_k values[k] v_k v_k^T`.
   */
  readonly vectors: Float64Array;
}

/** QL iterations allowed per eigenvalue before giving up (it converges in 1-3 in practice). */
const MAX_QL_ITERATIONS = 60;

/**
 * `sum_i a[aStart + i] * b[bStart + i]` for i < length, with four partial sums (V8 does not
 * reassociate floating-point additions, so one running sum would serialise on its latency).
 */
function dot(
  a: Float64Array,
  aStart: number,
  b: Float64Array,
  bStart: number,
  length: number,
): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < length; i += 4) {
    s0 += a[aStart + i]! * b[bStart + i]!;
    s1 += a[aStart + i + 1]! * b[bStart + i + 1]!;
    s2 += a[aStart + i + 2]! * b[bStart + i + 2]!;
    s3 += a[aStart + i + 3]! * b[bStart + i + 3]!;
  }
  for (; i < length; i++) s0 += a[aStart + i]! * b[bStart + i]!;
  return s0 + s1 + (s2 + s3);
}

/**
 * Householder tridiagonalisation `A = Q T Q^T` in place, reading and updating only the UPPER
 * triangle of `a` (row i, columns >= i). On return `d`/`e` hold the diagonal and the
 * subdiagonal of T (`e[i] = T[i+1][i]`, `e[n-1] = 0`) and row k of `a`, columns k+1..n-1, holds
 * the Householder vector `v_k` of step k (`H_k = I - v_k v_k^T`, `|v_k|^2 = 2` or 0), with
 * `Q = H_0 H_1 ... H_{n-3}`.
 */
function tridiagonalize(a: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  const p = new Float64Array(n);
  for (let k = 0; k + 2 < n; k++) {
    const rowK = k * n;
    const start = k + 1;
    const length = n - start;
    // x = A[k+1.., k] = A[k, k+1..] (symmetry): contiguous in row k.
    const normSquared = dot(a, rowK + start, a, rowK + start, length);
    d[k] = a[rowK + k]!;
    if (normSquared === 0) {
      e[k] = 0;
      continue; // H_k = I: v_k stays the zero vector stored in row k.
    }
    const x0 = a[rowK + start]!;
    const norm = Math.sqrt(normSquared);
    const alpha = x0 >= 0 ? -norm : norm;
    e[k] = alpha;
    // v = (x - alpha e_1) scaled to |v|^2 = 2; |x - alpha e_1|^2 = 2 norm (norm + |x0|).
    const scale = 1 / Math.sqrt(norm * (norm + Math.abs(x0)));
    a[rowK + start] = (x0 - alpha) * scale;
    for (let j = start + 1; j < n; j++) a[rowK + j]! *= scale;
    // p = A22 v from the upper triangle: row i gives p_i's part j >= i and, by symmetry,
    // adds a_ij v_i to p_j for j > i.
    p.fill(0, start, n);
    for (let i = start; i < n; i++) {
      const rowI = i * n;
      const vi = a[rowK + i]!;
      let s = a[rowI + i]! * a[rowK + i]!;
      for (let j = i + 1; j < n; j++) {
        const aij = a[rowI + j]!;
        s += aij * a[rowK + j]!;
        p[j]! += aij * vi;
      }
      p[i]! += s;
    }
    // A22 <- H A22 H = A22 - v w^T - w v^T with w = p - (v.p / 2) v (upper triangle only).
    const half = dot(p, start, a, rowK + start, length) / 2;
    for (let i = start; i < n; i++) p[i]! -= half * a[rowK + i]!;
    for (let i = start; i < n; i++) {
      const rowI = i * n;
      const vi = a[rowK + i]!;
      const wi = p[i]!;
      for (let j = i; j < n; j++) a[rowI + j]! -= vi * p[j]! + wi * a[rowK + j]!;
    }
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2]!;
    e[n - 2] = a[(n - 2) * n + n - 1]!;
  }
  d[n - 1] = a[n * n - 1]!;
  e[n - 1] = 0;
}

/**
 * `Q^T = H_{n-3} ... H_0` from the Householder vectors left in `a` by {@link tridiagonalize},
 * accumulated as `((I H_{n-3}) H_{n-4}) ... H_0`, each product touching only the trailing rows
 * and columns (`x <- x - (x . v) v` per row).
 */
function transposedQ(a: Float64Array, n: number): Float64Array {
  const z = new Float64Array(n * n);
  for (let i = 0; i < n; i++) z[i * n + i] = 1;
  for (let k = n - 3; k >= 0; k--) {
    const rowK = k * n;
    const start = k + 1;
    // Two rows at a time: each entry of v is loaded once for both.
    let i = start;
    for (; i + 1 < n; i += 2) {
      const rowI = i * n;
      const rowNext = rowI + n;
      let s0 = 0;
      let s1 = 0;
      for (let j = start; j < n; j++) {
        const v = a[rowK + j]!;
        s0 += z[rowI + j]! * v;
        s1 += z[rowNext + j]! * v;
      }
      for (let j = start; j < n; j++) {
        const v = a[rowK + j]!;
        z[rowI + j]! -= s0 * v;
        z[rowNext + j]! -= s1 * v;
      }
    }
    if (i < n) {
      const rowI = i * n;
      const s = dot(z, rowI + start, a, rowK + start, n - start);
      for (let j = start; j < n; j++) z[rowI + j]! -= s * a[rowK + j]!;
    }
  }
  return z;
}

/**
 * Applies one QL sweep's rotations to the rows of `z` (row-major `n x n`): for i = last-1 down
 * to first, rows (i, i+1) <- (c_i z_i - s_i z_{i+1}, s_i z_i + c_i z_{i+1}). Row i+1's new value
 * is final once rotation i is done and row i is then rotated again, so each column is one
 * recurrence carried down the rows: done four columns at a time with the carries in locals,
 * every entry is loaded and stored once per sweep instead of twice.
 */
function rotateRows(
  z: Float64Array,
  n: number,
  cosines: Float64Array,
  sines: Float64Array,
  first: number,
  last: number,
): void {
  if (last <= first) return;
  let k = 0;
  for (; k + 3 < n; k += 4) {
    const lastRow = last * n + k;
    let t0 = z[lastRow]!;
    let t1 = z[lastRow + 1]!;
    let t2 = z[lastRow + 2]!;
    let t3 = z[lastRow + 3]!;
    for (let i = last - 1; i >= first; i--) {
      const c = cosines[i]!;
      const s = sines[i]!;
      const row = i * n + k;
      const a0 = z[row]!;
      const a1 = z[row + 1]!;
      const a2 = z[row + 2]!;
      const a3 = z[row + 3]!;
      z[row + n] = s * a0 + c * t0;
      z[row + n + 1] = s * a1 + c * t1;
      z[row + n + 2] = s * a2 + c * t2;
      z[row + n + 3] = s * a3 + c * t3;
      t0 = c * a0 - s * t0;
      t1 = c * a1 - s * t1;
      t2 = c * a2 - s * t2;
      t3 = c * a3 - s * t3;
    }
    const firstRow = first * n + k;
    z[firstRow] = t0;
    z[firstRow + 1] = t1;
    z[firstRow + 2] = t2;
    z[firstRow + 3] = t3;
  }
  for (; k < n; k++) {
    let t = z[last * n + k]!;
    for (let i = last - 1; i >= first; i--) {
      const a = z[i * n + k]!;
      z[(i + 1) * n + k] = sines[i]! * a + cosines[i]! * t;
      t = cosines[i]! * a - sines[i]! * t;
    }
    z[first * n + k] = t;
  }
}

/**
 * Eigenvalues of the symmetric tridiagonal (`d`, `e`) by the implicit QL iteration, in place
 * (`d` becomes the eigenvalues, unsorted; `e` is destroyed). Every rotation `G` of the sweep is
 * also applied to rows i, i+1 of `z` (row-major `n x n`), so rows of `G^T ... z` come out as the
 * eigenvectors when `z` starts as `Q^T`.
 */
function tridiagonalQl(d: Float64Array, e: Float64Array, z: Float64Array, n: number): void {
  // A subdiagonal below EPSILON * |T| is at the level of the reduction's own rounding errors
  // (a test relative to the neighbouring diagonal alone never fires among eigenvalues that are
  // zero up to rounding, e.g. of a rank-deficient statistic).
  let normT = 0;
  for (let i = 0; i < n; i++) normT = Math.max(normT, Math.abs(d[i]!) + Math.abs(e[i]!));
  const negligible = Number.EPSILON * normT;
  const cosines = new Float64Array(n);
  const sines = new Float64Array(n);
  for (let l = 0; l < n; l++) {
    for (let iteration = 0; ; iteration++) {
      // The first negligible subdiagonal at or after l splits off the block l..m.
      let m = l;
      while (m < n - 1 && Math.abs(e[m]!) > negligible) m++;
      if (m === l) break;
      if (iteration >= MAX_QL_ITERATIONS) {
        throw new Error(`Symmetric eigensolver: no convergence after ${iteration} QL iterations`);
      }
      // Shift: the eigenvalue of the leading 2x2 block of l..m nearer to d[l].
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.sqrt(g * g + 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.sqrt(f * f + g * g);
        e[i + 1] = r;
        if (r === 0) {
          // Underflow: the chase stops early; deflate and restart.
          d[i + 1]! -= p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        cosines[i] = c;
        sines[i] = s;
      }
      rotateRows(z, n, cosines, sines, i + 1, m);
      if (r === 0 && i >= l) continue;
      d[l]! -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/**
 * The eigendecomposition of the symmetric `n x n` matrix `a` (row-major, read only). Only its
 * UPPER triangle (row i, columns >= i) is read: the matrix is taken as symmetric. Costs about
 * `9 n^3` flops in float64; throws a clear error on a non-finite entry.
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  if (!Number.isInteger(n) || n < 1) throw new Error(`Matrix order must be >= 1, got ${n}`);
  if (a.length !== n * n) {
    throw new Error(`Expected ${n * n} entries for a ${n}x${n} matrix, got ${a.length}`);
  }
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = Math.abs(a[i * n + j]!);
      if (!(v <= Number.MAX_VALUE)) {
        throw new Error(`Symmetric eigensolver: entry [${i}, ${j}] is ${a[i * n + j]}`);
      }
      if (v > maxAbs) maxAbs = v;
    }
  }
  // Work on A / max|A| so that no square in the iteration overflows or underflows.
  const scale = maxAbs === 0 ? 1 : maxAbs;
  const work = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) work[i * n + j] = a[i * n + j]! / scale;
  }
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonalize(work, n, d, e);
  const z = transposedQ(work, n);
  tridiagonalQl(d, e, z, n);
  const order = Array.from({ length: n }, (_, k) => k).sort((i, j) => d[i]! - d[j]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((from, to) => {
    values[to] = d[from]! * scale;
    vectors.set(z.subarray(from * n, from * n + n), to * n);
  });
  return { n, values, vectors };
}

/**
 * `sum_k f(values[k]) v_k v_k^T` (row-major, symmetric): a function of the matrix from its
 * eigendecomposition, e.g. `f = x => (x + r) ** (-1 / p)` for an inverse root.
 */
export function symmetricFunction(
  eigen: SymmetricEigen,
  f: (value: number) => number,
): Float64Array {
  const { n, values, vectors } = eigen;
  // u = V^T (row i: the i-th entries of all eigenvectors), scaled = u diag(f).
  const u = new Float64Array(n * n);
  const scaled = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const weight = f(values[k]!);
    const rowK = k * n;
    for (let i = 0; i < n; i++) {
      u[i * n + k] = vectors[rowK + i]!;
      scaled[i * n + k] = weight * vectors[rowK + i]!;
    }
  }
  const result = new Float64Array(n * n);
  // result[i][j] = scaled_i . u_j for j >= i, two rows by two columns at a time (each loaded
  // value is used twice), mirrored into the lower triangle.
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const rowI = i * n;
    const rowNext = rowI + n;
    for (let j = i; j < n; j += 2) {
      const colJ = j * n;
      if (j + 1 === n) {
        setSymmetric(result, n, i, j, dot(scaled, rowI, u, colJ, n));
        setSymmetric(result, n, i + 1, j, dot(scaled, rowNext, u, colJ, n));
        continue;
      }
      const colNext = colJ + n;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let k = 0; k < n; k++) {
        const a0 = scaled[rowI + k]!;
        const a1 = scaled[rowNext + k]!;
        const b0 = u[colJ + k]!;
        const b1 = u[colNext + k]!;
        s00 += a0 * b0;
        s01 += a0 * b1;
        s10 += a1 * b0;
        s11 += a1 * b1;
      }
      setSymmetric(result, n, i, j, s00);
      setSymmetric(result, n, i, j + 1, s01);
      setSymmetric(result, n, i + 1, j, s10);
      setSymmetric(result, n, i + 1, j + 1, s11);
    }
  }
  if (i < n) setSymmetric(result, n, i, i, dot(scaled, i * n, u, i * n, n));
  return result;
}

/** Sets entries [i][j] and [j][i] of the row-major `n x n` matrix `m`. */
function setSymmetric(m: Float64Array, n: number, i: number, j: number, value: number): void {
  m[i * n + j] = value;
  m[j * n + i] = value;
}
