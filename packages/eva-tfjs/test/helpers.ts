/** Shared test helpers: float64 references (ml-matrix), seeded data, tensor readers. */
import * as tf from '@tensorflow/tfjs';
import { EigenvalueDecomposition, Matrix, solve } from 'ml-matrix';
import assert from 'node:assert/strict';
import { seededRandom } from '@eva-tfjs/experiments';

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** Seeded normal-ish values (Box-Muller). */
export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  const r = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r()) * scale;
  }
  return out;
}

export function randomTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tensor(
    randomValues(
      shape.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
    shape,
  );
}

/** Float64 copy of a tensor's values. */
export function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync(), Number);
}

/** Asserts elementwise closeness with a tolerance relative to the largest magnitude. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-4,
  label = '',
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    assert.ok(
      diff <= rtol * Math.max(scale, 1e-12),
      `${label}[${i}]: ${actual[i]} vs ${expected[i]} (|diff| ${diff}, scale ${scale})`,
    );
  }
}

/**
 * Eva's preconditioned gradient computed densely in float64: builds C = (g g^T) (x) (a a^T) over
 * PyTorch's row-major vec of G [out, in(+1)] and solves (C + damping I) p = vec(G).
 * `kernelGrad` is tfjs's [in, out] (conv kernels flattened to [kh*kw*cin, out]).
 */
export function denseEvaReference(
  kernelGrad: number[][],
  biasGrad: number[] | null,
  a: number[],
  g: number[],
  damping: number,
): { kernel: number[][]; bias: number[] | null; vec: number[]; p: number[] } {
  const inFeatures = kernelGrad.length;
  const out = g.length;
  const d = inFeatures + (biasGrad ? 1 : 0);
  const aUsed = a.slice(0, d);
  const vec: number[] = [];
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inFeatures; i++) vec.push(kernelGrad[i]![o]!);
    if (biasGrad) vec.push(biasGrad[o]!);
  }
  const v: number[] = [];
  for (let o = 0; o < out; o++) for (let i = 0; i < d; i++) v.push(g[o]! * aUsed[i]!);
  const n = v.length;
  const c = Matrix.zeros(n, n);
  for (let r = 0; r < n; r++)
    for (let s = 0; s < n; s++) c.set(r, s, v[r]! * v[s]! + (r === s ? damping : 0));
  const p = solve(c, Matrix.columnVector(vec)).getColumn(0);
  const kernel = Array.from({ length: inFeatures }, (_, i) =>
    Array.from({ length: out }, (_, o) => p[o * d + i]!),
  );
  const bias = biasGrad ? Array.from({ length: out }, (_, o) => p[o * d + inFeatures]!) : null;
  return { kernel, bias, vec, p };
}

/** Reads a tensor as a 2-D array `[rows, cols]` after reshaping to `[rows, -1]`. */
export function matrix(t: tf.Tensor, rows: number): number[][] {
  const flat = values(t);
  const cols = flat.length / rows;
  return Array.from({ length: rows }, (_, r) => flat.slice(r * cols, (r + 1) * cols));
}

/** The Kronecker product `a (x) b` of two float64 matrices. */
export function kron(a: number[][], b: number[][]): Matrix {
  const ra = a.length;
  const ca = a[0]!.length;
  const rb = b.length;
  const cb = b[0]!.length;
  const result = Matrix.zeros(ra * rb, ca * cb);
  for (let i = 0; i < ra; i++)
    for (let j = 0; j < ca; j++)
      for (let k = 0; k < rb; k++)
        for (let l = 0; l < cb; l++) result.set(i * rb + k, j * cb + l, a[i]![j]! * b[k]![l]!);
  return result;
}

/** `m + c I` as a 2-D array. */
export function addIdentity(m: number[][], c: number): number[][] {
  return m.map((row, i) => row.map((v, j) => v + (i === j ? c : 0)));
}

/** The identity as a 2-D array. */
export function identity(n: number): number[][] {
  return addIdentity(
    Array.from({ length: n }, () => new Array<number>(n).fill(0)),
    1,
  );
}

/** Solves `c x = rhs` in float64. */
export function solveDense(c: Matrix, rhs: number[]): number[] {
  return solve(c, Matrix.columnVector(rhs)).getColumn(0);
}

/** `(m + r I)^power` of a symmetric PSD matrix via a float64 eigendecomposition. */
export function symmetricPower(m: number[][], power: number, ridge = 0): number[][] {
  const evd = new EigenvalueDecomposition(new Matrix(m), { assumeSymmetric: true });
  const v = evd.eigenvectorMatrix;
  const scaled = v.clone();
  evd.realEigenvalues.forEach((lambda, j) => {
    const f = Math.pow(Math.max(lambda, 0) + ridge, power);
    for (let i = 0; i < v.rows; i++) scaled.set(i, j, scaled.get(i, j) * f);
  });
  return scaled.mmul(v.transpose()).to2DArray();
}

/**
 * A layer gradient in PyTorch's row-major vec order of `G [out, in(+1)]` (index o * d + i),
 * from tfjs's kernel `[in, out]` rows and the bias.
 */
export function layerVec(kernel: number[][], bias: number[] | null): number[] {
  const inFeatures = kernel.length;
  const out = kernel[0]!.length;
  const vec: number[] = [];
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inFeatures; i++) vec.push(kernel[i]![o]!);
    if (bias) vec.push(bias[o]!);
  }
  return vec;
}

/** The inverse of {@link layerVec}. */
export function fromLayerVec(
  vec: number[],
  inFeatures: number,
  out: number,
  hasBias: boolean,
): { kernel: number[][]; bias: number[] | null } {
  const d = inFeatures + (hasBias ? 1 : 0);
  const kernel = Array.from({ length: inFeatures }, (_, i) =>
    Array.from({ length: out }, (_, o) => vec[o * d + i]!),
  );
  const bias = hasBias ? Array.from({ length: out }, (_, o) => vec[o * d + inFeatures]!) : null;
  return { kernel, bias };
}
