/** Shared test helpers: float64 references (ml-matrix), seeded data, tensor readers. */
import * as tf from '@tensorflow/tfjs';
import { EigenvalueDecomposition, Matrix, solve } from 'ml-matrix';
import assert from 'node:assert/strict';
import { createAutoencoder, initializeLikePyTorch, seededRandom } from '@eva-tfjs/experiments';
import {
  createOptimizerByName,
  disposeIterationCounters,
  SGD,
  type Conv2DGeometry,
  type NamedTensor,
  type WrappingOptimizer,
} from '../src/index.js';

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

/** `|actual - expected|_F / |expected|_F` in float64. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let difference = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    difference += (actual[i]! - expected[i]!) ** 2;
    norm += expected[i]! ** 2;
  }
  return Math.sqrt(difference / norm);
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

/** Explicit im2col mean patch of a channels-last image (float64 loops). */
export function explicitMeanPatch(
  img: number[],
  h: number,
  w: number,
  c: number,
  g: Conv2DGeometry,
  oh: number,
  ow: number,
  top: number,
  left: number,
): number[] {
  const [kh, kw] = g.kernelSize;
  const [sh, sw] = g.strides;
  const out = new Array(kh * kw * c).fill(0);
  for (let r = 0; r < oh; r++)
    for (let q = 0; q < ow; q++)
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++)
          for (let k = 0; k < c; k++) {
            const y = r * sh + i - top;
            const xx = q * sw + j - left;
            const v = y >= 0 && y < h && xx >= 0 && xx < w ? img[(y * w + xx) * c + k]! : 0;
            out[(i * kw + j) * c + k] += v / (oh * ow);
          }
  return out;
}

/** `X^T X / rows` for a random `[rows, d]` X: rank min(rows, d). */
export function spd(d: number, rows: number, seed: number): number[][] {
  const x = new Matrix(
    Array.from({ length: rows }, (_, r) => Array.from(randomValues(d, seed * 1000 + r))),
  );
  // Rounded to float32, the precision of the tensors under test.
  return x
    .transpose()
    .mmul(x)
    .div(rows)
    .to2DArray()
    .map((row) => Array.from(Float32Array.from(row)));
}

/**
 * The matrices of the linear-algebra tests: random SPD, near-singular (rank-deficient, like
 * factors of few samples or dead ReLUs) and all-zero.
 */
export function spdCases(): Array<[string, number[][]]> {
  return [
    ['full-rank SPD', spd(12, 40, 1)],
    ['rank-3 (near-singular)', spd(12, 3, 2)],
    [
      'dead unit (zero row and column)',
      spd(12, 40, 3).map((row, i) => row.map((v, j) => (i === 4 || j === 4 ? 0 : v))),
    ],
    ['all zero', Array.from({ length: 6 }, () => new Array<number>(6).fill(0))],
  ];
}

/** The 12-8-3-8-12 autoencoder of the optimizer tests, initialised like PyTorch (seed 1). */
export function initializedAutoencoder(): tf.Sequential {
  const model = createAutoencoder(12, [8, 3, 8]);
  initializeLikePyTorch(model, 1);
  return model;
}

// The preconditioner numerics tests (test/preconditioners): a small model with Conv2D (stride 1
// 'same' with bias, stride 2 'valid' without) and Dense (with and without bias) layers, one or a
// few `precondition` steps, and a check of each layer's direction against a dense float64 solve.

/** The model of the preconditioner numerics tests (unnamed layers: default names). */
export function buildModel(): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 2] });
  let h = tf.layers
    .conv2d({ filters: 3, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' })
    .apply(input) as tf.SymbolicTensor;
  h = tf.layers
    .conv2d({ filters: 4, kernelSize: [3, 2], strides: 2, padding: 'valid', useBias: false })
    .apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 5, activation: 'tanh' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, useBias: false }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** The outcome of {@link runOnce}. */
export interface Run {
  model: tf.LayersModel;
  grads: tf.NamedTensorMap;
  result: Map<string, tf.Tensor>;
  state: Map<string, tf.Tensor>;
  /** Every step's gradient values, by variable name. */
  history: Map<string, number[][]>;
  /** The weights before the first step, by variable name. */
  initial: Map<string, number[]>;
  cleanup(): void;
}

/**
 * `steps` steps of `make(model)` on fixed batches; returns the last gradients, output and the
 * state. `'precondition'` (default) only computes each step's update (the weights stay);
 * `'apply'` applies it (`applyGradients`, no output).
 */
export async function runOnce(
  make: (model: tf.LayersModel) => tf.Optimizer & {
    precondition(g: tf.NamedTensorMap): NamedTensor[] | null;
  },
  steps = 1,
  mode: 'precondition' | 'apply' = 'precondition',
): Promise<Run & { optimizer: tf.Optimizer }> {
  const model = buildModel();
  const optimizer = make(model);
  let grads: tf.NamedTensorMap = {};
  let result: NamedTensor[] = [];
  const history = new Map<string, number[][]>();
  const initial = new Map(
    model.trainableWeights.map((w) => [(w.read() as tf.Variable).name, values(w.read())]),
  );
  for (let s = 0; s < steps; s++) {
    tf.dispose(Object.values(grads));
    tf.dispose(result.map((r) => r.tensor));
    const x = randomTensor([7, 6, 6, 2], 1 + s);
    const y = randomTensor([7, 3], 100 + s);
    const out = tf.variableGrads(
      () =>
        tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    );
    out.value.dispose();
    tf.dispose([x, y]);
    grads = out.grads;
    for (const [name, g] of Object.entries(grads)) {
      history.set(name, [...(history.get(name) ?? []), values(g)]);
    }
    if (mode === 'apply') optimizer.applyGradients(grads);
    else result = optimizer.precondition(grads)!;
  }
  const weights = await optimizer.getWeights();
  return {
    model,
    optimizer,
    grads,
    result: new Map(result.map((r) => [r.name, r.tensor])),
    state: new Map(weights.map((w) => [w.name, w.tensor])),
    history,
    initial,
    cleanup() {
      tf.dispose([...Object.values(grads), ...result.map((r) => r.tensor)]);
      disposeIterationCounters(weights);
      optimizer.dispose();
      model.dispose();
    },
  };
}

/**
 * Checks three applied steps of registry optimizer `name` on the reference (in-place) Nesterov
 * base against a float64 replay: `replay(shape)` gives a fresh per-variable function from one
 * step's gradient to its grafted direction; weight decay 1e-3 is added, then the momentum of
 * Google's Shampoo port (`buf = mu buf + s`, then the same buffer again in place, `w -= lr buf`,
 * mu = 0.9, lr 0.05). Also checks that the base is the library's SGD and that nothing leaks.
 */
export async function checkReferenceNesterovSteps(
  name: string,
  options: Record<string, unknown>,
  replay: (shape: number[]) => (gradient: number[]) => number[],
): Promise<void> {
  const [lr, mu, wd, steps] = [0.05, 0.9, 1e-3, 3];
  const tensors = tf.memory().numTensors;
  const run = await runOnce(
    (m) =>
      createOptimizerByName(name, m, {
        learningRate: lr,
        momentum: mu,
        nesterovVariant: 'reference',
        weightDecay: wd,
        ...options,
      }) as WrappingOptimizer,
    steps,
    'apply',
  );
  assert.equal((run.optimizer as WrappingOptimizer).base.getClassName(), SGD.className);
  for (const weight of run.model.trainableWeights) {
    const variable = weight.read() as tf.Variable;
    const direction = replay(weight.shape as number[]);
    const w = [...run.initial.get(variable.name)!];
    const buffer = new Array<number>(w.length).fill(0);
    for (const g of run.history.get(variable.name)!) {
      const s = direction(g).map((x, i) => x + wd * w[i]!);
      for (let i = 0; i < w.length; i++) {
        buffer[i] = mu * buffer[i]! + s[i]!;
        buffer[i] = mu * buffer[i]! + s[i]!;
        w[i]! -= lr * buffer[i]!;
      }
    }
    assertClose(values(variable), w, 1e-4, variable.name);
  }
  run.cleanup();
  assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
}

/** A captured layer's variable names and shape, read from a second-order optimizer. */
export interface LayerInfo {
  index: number;
  kernelName: string;
  biasName: string | undefined;
  inFeatures: number;
  out: number;
  hasBias: boolean;
}

export function layerInfos(opt: {
  layers: readonly {
    layer: unknown;
    index: number;
    geometry: { inFeatures: number; outFeatures: number; hasBias: boolean };
  }[];
}): LayerInfo[] {
  return opt.layers.map((captured) => {
    const layer = captured.layer as {
      kernel: { read(): tf.Variable };
      bias: { read(): tf.Variable } | null;
    };
    return {
      index: captured.index,
      kernelName: layer.kernel.read().name,
      biasName: layer.bias?.read().name,
      inFeatures: captured.geometry.inFeatures,
      out: captured.geometry.outFeatures,
      hasBias: captured.geometry.hasBias,
    };
  });
}

/** Per layer: solve `C p = vec(G)` with the given curvature, then one global scale; compare. */
export function checkLayerwise(
  run: Run,
  layers: LayerInfo[],
  curvature: (layer: LayerInfo) => Matrix,
  scale: (sums: { pg: number; gg: number; pp: number }) => number,
  rtol = 5e-4,
): void {
  const refs = layers.map((info) => {
    const vec = layerVec(
      matrix(run.grads[info.kernelName]!, info.inFeatures),
      info.biasName ? values(run.grads[info.biasName]!) : null,
    );
    return { info, vec, p: solveDense(curvature(info), vec) };
  });
  const sums = { pg: 0, gg: 0, pp: 0 };
  for (const { vec, p } of refs) {
    vec.forEach((g, i) => {
      sums.pg += g * p[i]!;
      sums.gg += g * g;
      sums.pp += p[i]! ** 2;
    });
  }
  const nu = scale(sums);
  for (const { info, p } of refs) {
    const ref = fromLayerVec(
      p.map((v) => v * nu),
      info.inFeatures,
      info.out,
      info.hasBias,
    );
    assertClose(
      matrix(run.result.get(info.kernelName)!, info.inFeatures).flat(),
      ref.kernel.flat(),
      rtol,
      `kernel of layer ${info.index}`,
    );
    if (info.biasName) {
      assertClose(values(run.result.get(info.biasName)!), ref.bias!, rtol, `bias of ${info.index}`);
    }
  }
}

/** A tensor as a 2-D array `[shape[0], -1]`. */
export const read2d = (t: tf.Tensor) => matrix(t, t.shape[0]!);

/** Two tanh/linear Dense layers (12 -> 10 -> 4) with seeded weights, as a functional model. */
export function twoLayerModel(seed: number): tf.LayersModel {
  const input = tf.input({ shape: [12] });
  const h = tf.layers.dense({ units: 10, activation: 'tanh' }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4 }).apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const weights = model.getWeights().map((w, i) => randomTensor(w.shape, seed + i, 0.3));
  model.setWeights(weights);
  tf.dispose(weights);
  return model;
}

/**
 * One `minimize` step of the mean squared error of `model` on `(x, y)`; with `lastLayerOnly`,
 * of the last layer's variables only (gradual unfreezing).
 */
export function mseStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor,
  lastLayerOnly = false,
): void {
  const varList = lastLayerOnly
    ? model.layers.at(-1)!.trainableWeights.map((w) => w.read() as tf.Variable)
    : undefined;
  optimizer
    .minimize(
      () => tf.losses.meanSquaredError(y, model.predict(x) as tf.Tensor) as tf.Scalar,
      false,
      varList,
    )
    ?.dispose();
}

/** A snapshot of an optimizer's state as plain arrays (names, shapes, values). */
export async function optimizerSnapshot(optimizer: tf.Optimizer) {
  const weights = await optimizer.getWeights();
  const copy = weights.map((w) => ({
    name: w.name,
    shape: w.tensor.shape,
    values: w.tensor.arraySync(),
  }));
  disposeIterationCounters(weights);
  return copy;
}

/** `model.save` with its optimizer, into memory (for `tf.loadLayersModel(tf.io.fromMemory(...))`). */
export async function saveToMemory(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  assert.ok(saved != null);
  return saved;
}

/** Copies of an optimizer's saved state (the caller disposes them), its counters released. */
export async function stateCopy(optimizer: tf.Optimizer): Promise<NamedTensor[]> {
  const saved = await optimizer.getWeights();
  const copies = saved.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
  disposeIterationCounters(saved);
  return copies;
}
