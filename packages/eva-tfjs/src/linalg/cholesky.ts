/**
 * Dense float64 Cholesky factorisation and lower-triangular inverse on flat row-major
 * `Float64Array`s. ml-matrix has both, but through per-element accessors they take 1.4 s at
 * d = 512 on this machine (bench/linalg.md); these loops run over contiguous row prefixes and are
 * several times faster, which matters for K-FAC's 1001 x 1001 factors. ml-matrix stays the
 * independent reference in the tests.
 */

/**
 * The lower factor `L` of `A = L L^T` (row-major, upper triangle zero), or null when `A` is not
 * (numerically) positive definite. Only the lower triangle of `a` is read.
 */
export function choleskyLower(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rowJ = j * n;
    let s = a[rowJ + j]!;
    for (let k = 0; k < j; k++) s -= l[rowJ + k]! * l[rowJ + k]!;
    if (!(s > 0)) return null;
    const diagonal = Math.sqrt(s);
    l[rowJ + j] = diagonal;
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      let t = a[rowI + j]!;
      for (let k = 0; k < j; k++) t -= l[rowI + k]! * l[rowJ + k]!;
      l[rowI + j] = t / diagonal;
    }
  }
  return l;
}

/** `L^-1` of a lower-triangular `L` with a positive diagonal (row-major, lower triangular). */
export function lowerTriangularInverse(l: Float64Array, n: number): Float64Array {
  const x = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const rowI = i * n;
    // Row i of X: (e_i - sum_{k<i} L[i,k] X[k,:]) / L[i,i]; X[k,:] is zero beyond column k.
    for (let k = 0; k < i; k++) {
      const c = l[rowI + k]!;
      if (c === 0) continue;
      const rowK = k * n;
      for (let j = 0; j <= k; j++) x[rowI + j]! -= c * x[rowK + j]!;
    }
    const inv = 1 / l[rowI + i]!;
    for (let j = 0; j < i; j++) x[rowI + j]! *= inv;
    x[rowI + i] = inv;
  }
  return x;
}

/**
 * `M^T M` of a lower-triangular `M` (row-major, full symmetric result): with `M = L^-1` this is
 * `A^-1 = L^-T L^-1`. About `n^3 / 3` multiply-adds in float64.
 */
export function lowerGram(m: Float64Array, n: number): Float64Array {
  const x = new Float64Array(n * n);
  // X[i, j] = sum_{k >= max(i, j)} M[k, i] M[k, j]: accumulate row k's outer product.
  for (let k = 0; k < n; k++) {
    const rowK = k * n;
    for (let i = 0; i <= k; i++) {
      const c = m[rowK + i]!;
      if (c === 0) continue;
      const rowI = i * n;
      for (let j = 0; j <= i; j++) x[rowI + j]! += c * m[rowK + j]!;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) x[j * n + i] = x[i * n + j]!;
  return x;
}
