/**
 * Symmetric test matrices with a KNOWN spectrum, `A = Q diag(lambda) Q^T` with a random
 * orthogonal Q (ml-matrix's QR of a seeded random matrix), for the eigensolver and inverse-root
 * tests: functions of A have the exact float64 reference `Q diag(f(lambda)) Q^T`, computed
 * without any eigensolver.
 */
import { Matrix, QrDecomposition } from 'ml-matrix';
import { randomValues } from '../helpers.js';

/** A symmetric matrix of known spectrum. */
export interface SpectrumCase {
  readonly label: string;
  readonly n: number;
  /** The eigenvalues, in the order of Q's columns. */
  readonly eigenvalues: number[];
  /** Q, orthogonal, `n x n`. */
  readonly q: Matrix;
  /** `Q diag(eigenvalues) Q^T`, row-major float64. */
  readonly matrix: Float64Array;
}

/** A seeded random orthogonal `n x n` matrix. */
export function randomOrthogonal(n: number, seed: number): Matrix {
  const values = randomValues(n * n, seed);
  const m = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m.set(i, j, values[i * n + j]!);
  return new QrDecomposition(m).orthogonalMatrix;
}

/** `Q diag(f(lambda)) Q^T` as a row-major float64 array. */
export function spectralFunction(
  q: Matrix,
  eigenvalues: readonly number[],
  f: (lambda: number) => number = (x) => x,
): Float64Array {
  const n = q.rows;
  const scaled = q.clone();
  eigenvalues.forEach((lambda, j) => {
    const weight = f(lambda);
    for (let i = 0; i < n; i++) scaled.set(i, j, scaled.get(i, j) * weight);
  });
  return Float64Array.from(scaled.mmul(q.transpose()).to1DArray());
}

/** A case of the given spectrum (random orthogonal eigenvectors from `seed`). */
export function spectrumCase(label: string, eigenvalues: number[], seed: number): SpectrumCase {
  const n = eigenvalues.length;
  const q = randomOrthogonal(n, seed);
  return { label, n, eigenvalues, q, matrix: spectralFunction(q, eigenvalues) };
}

/**
 * Spectra that stress a symmetric eigensolver at `n`: spread positive, repeated (clusters of
 * equal eigenvalues), rank-deficient (many exact zeros), badly conditioned (1 down to 1e-14)
 * and, for solvers of general symmetric matrices, indefinite.
 */
export function spectrumCases(n: number, seed: number): SpectrumCase[] {
  const range = (f: (k: number) => number) => Array.from({ length: n }, (_, k) => f(k));
  return [
    spectrumCase(
      `n=${n} spread`,
      range((k) => 0.5 + Math.sin(k + seed) ** 2 * 3),
      seed,
    ),
    spectrumCase(
      `n=${n} repeated`,
      range((k) => [1, 1, 1, 2, 2, 0.25][k % 6]!),
      seed + 1,
    ),
    spectrumCase(
      `n=${n} rank ${Math.ceil(n / 4)}`,
      range((k) => (k % 4 === 0 ? 1 + k : 0)),
      seed + 2,
    ),
    spectrumCase(
      `n=${n} condition 1e14`,
      range((k) => 10 ** (-14 * (n === 1 ? 0 : k / (n - 1)))),
      seed + 3,
    ),
    spectrumCase(
      `n=${n} indefinite`,
      range((k) => (k % 2 === 0 ? 1 : -1) * (1 + k / n)),
      seed + 4,
    ),
  ];
}
