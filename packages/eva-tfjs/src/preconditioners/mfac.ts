/**
 * M-FAC (Frantar, Kurtic & Alistarh 2021), the dense matrix-free variant: the inverse of the
 * damped empirical Fisher of the last m gradients, `F = lambda I + (1/m) sum_i g_i g_i^T`,
 * applied to a vector without ever forming a d x d matrix.
 *
 * The recursive Sherman-Morrison formula adds one gradient at a time; its coefficients depend
 * only on the m x m Gram matrix `G G^T`: the i-th denominator `m + g_i^T F_{i-1}^-1 g_i` is the
 * i-th pivot of the LDL^T (Cholesky) factorisation of `K = m I + G G^T / lambda`, and the
 * product is `F^-1 x = x / lambda - G^T K^-1 (G x) / lambda^2`. The factorisation is done in float64 on the
 * host (O(m^3), as the reference recomputes its coefficients every step); the O(m d) products
 * with the gradient window run on the tensor backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { choleskyLower } from '../linalg/cholesky.js';
import type {
  AlgorithmState,
  TensorwiseAlgorithm,
  VariableGradient,
} from '../optimizer/algorithm.js';
import type { NamedTensor } from '../optimizer/gradients.js';
import { warnFrozenAtConstruction, type ModelVariable } from '../optimizer/model-variables.js';
import {
  defineOptions,
  positive,
  positiveInteger,
  type AssertDeclared,
} from '../optimizer/options.js';
import { registerWrappedOptimizer } from '../optimizer/serialization.js';
import {
  WrappingOptimizer,
  type WRAPPING_OPTIONS,
  type WrappingOptions,
} from '../optimizer/wrapping-optimizer.js';

/**
 * Solves `K z = y` with `K = m I + gram / lambda` (`gram` the k x k Gram matrix of the stored
 * gradients, row-major float64, k <= m). Returns `z`.
 */
export function mfacCoefficients(
  gram: Float64Array,
  k: number,
  m: number,
  lambda: number,
  y: Float64Array,
): Float64Array {
  const kMatrix = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) kMatrix[i * k + j] = gram[i * k + j]! / lambda;
    kMatrix[i * k + i]! += m;
  }
  const l = choleskyLower(kMatrix, k);
  if (l == null) throw new Error('M-FAC: the Gram system is not positive definite');
  // Forward substitution L u = y, then back substitution L^T z = u.
  const u = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let s = y[i]!;
    for (let j = 0; j < i; j++) s -= l[i * k + j]! * u[j]!;
    u[i] = s / l[i * k + i]!;
  }
  const z = new Float64Array(k);
  for (let i = k - 1; i >= 0; i--) {
    let s = u[i]!;
    for (let j = i + 1; j < k; j++) s -= l[j * k + i]! * z[j]!;
    z[i] = s / l[i * k + i]!;
  }
  return z;
}

/** Options of {@link MFAC}; defaults are the reference's. */
export interface MFACOptions extends WrappingOptions {
  /** Window: how many recent gradients form the Fisher estimate (default 1024). */
  m?: number;
  /** Damping lambda of `lambda I + (1/m) sum g g^T` (default 1e-5). */
  damping?: number;
  /** Refuse windows larger than this many bytes (default 4 GiB; the window is m x d floats). */
  maxWindowBytes?: number;
  /**
   * Dampen the base optimizer's momentum mu as the reference does, `v = mu v + (1 - mu) u`, by
   * scaling every direction by `1 - mu`, so a learning rate means what it means in the reference
   * M-FAC (default true; false: the undamped `v = mu v + u` of tfjs's and this library's
   * momentum, a step about `1 / (1 - mu)` times larger). mu is the `momentum` of the base's
   * `getConfig()` (`tf.train.momentum`, `tf.train.rmsprop` with momentum, this library's SGD;
   * 0 for a base without one, e.g. Adam).
   */
  dampenMomentum?: boolean;
}

const OPTIONS = defineOptions({
  m: {
    kind: 'number',
    default: 1024,
    constraint: positiveInteger,
    description: 'gradient window (how many recent gradients form the Fisher estimate)',
  },
  damping: { kind: 'number', default: 1e-5, constraint: positive, description: 'damping lambda' },
  maxWindowBytes: {
    kind: 'number',
    default: 2 ** 32,
    constraint: positive,
    description: 'refuse windows larger than this many bytes',
  },
  dampenMomentum: {
    kind: 'boolean',
    default: true,
    description: "scale directions by 1 - mu of the base's momentum (the reference's dampening)",
  },
});
const declared: AssertDeclared<MFACOptions, typeof WRAPPING_OPTIONS & typeof OPTIONS> = true;
void declared;

/** The momentum of a tfjs optimizer from its configuration (0 when it has none). */
function momentumOf(optimizer: tf.Optimizer): number {
  const momentum = (optimizer.getConfig() as { momentum?: unknown }).momentum;
  return typeof momentum === 'number' ? momentum : 0;
}

/** Rows per stored chunk of the window: replacing one gradient rewrites one chunk. */
const CHUNK_ROWS = 32;

const sizeOf = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** A byte count in the largest binary unit that keeps it at least 1 (`3.00 GiB`, `32 bytes`). */
function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let unit = -1;
  while (unit + 1 < units.length && bytes >= 1024 ** (unit + 2)) unit++;
  return unit < 0
    ? `${bytes} byte${bytes === 1 ? '' : 's'}`
    : `${(bytes / 1024 ** (unit + 1)).toFixed(2)} ${units[unit]}`;
}

/**
 * M-FAC's state: the ring buffer of the last m gradients (stored in chunks of rows), its Gram
 * matrix in float64 on the host, and the ring position.
 */
export class GradientWindow implements AlgorithmState {
  private chunks: tf.Tensor2D[] = [];
  /** The m x m Gram matrix of the window, row-major float64. */
  readonly gram: Float64Array;
  private next = 0;
  private nextTensor: tf.Tensor | null = null;
  /** The window's products with the newest gradient (set by {@link add}, used once). */
  dots: Float64Array | null = null;
  /**
   * The momentum mu of the base optimizer that applies the directions (read on every step;
   * {@link MFAC} connects it to its base; 0, nothing to dampen, until then).
   */
  baseMomentum: () => number = () => 0;
  /** Variables frozen at construction that were warned about. */
  readonly warnedFrozen = new Set<string>();

  constructor(
    /** The window size. */
    readonly m: number,
    /** The model's variables in parameter order. */
    readonly order: readonly ModelVariable[],
  ) {
    this.gram = new Float64Array(m * m);
    for (let start = 0; start < m; start += CHUNK_ROWS) {
      this.chunks.push(tf.keep(tf.zeros([Math.min(CHUNK_ROWS, m - start), this.size])));
    }
  }

  /** Parameters in the flat gradient. */
  get size(): number {
    return this.order.reduce((n, v) => n + sizeOf(v.shape), 0);
  }

  /** The model's gradients as one flat `[1, d]` row in parameter order (missing ones as zeros). */
  flatGradient(gradients: VariableGradient[]): tf.Tensor2D {
    return tf.tidy(() => {
      const byName = new Map(gradients.map((g) => [g.name, g.gradient]));
      const parts = this.order.map((v) => {
        const g = byName.get(v.name);
        return g == null ? tf.zeros([1, sizeOf(v.shape)]) : tf.reshape(g, [1, -1]);
      });
      return tf.concat(parts, 1) as tf.Tensor2D;
    });
  }

  /** `window x` as float64 (one host read). */
  private products(x: tf.Tensor2D): Float64Array {
    const products = tf.tidy(() =>
      tf.concat(this.chunks.map((c) => tf.reshape(tf.matMul(c, x, false, true), [-1]))),
    );
    const values = Float64Array.from(products.dataSync());
    products.dispose();
    return values;
  }

  /** Replaces the oldest gradient by `g` and updates the Gram matrix and {@link dots}. */
  add(g: tf.Tensor2D): void {
    const chunkIndex = Math.floor(this.next / CHUNK_ROWS);
    const row = this.next % CHUNK_ROWS;
    const chunk = this.chunks[chunkIndex]!;
    const rows = chunk.shape[0];
    this.chunks[chunkIndex] = tf.keep(
      tf.tidy(() =>
        tf.concat(
          [
            ...(row > 0 ? [tf.slice(chunk, [0, 0], [row, -1])] : []),
            g,
            ...(row + 1 < rows ? [tf.slice(chunk, [row + 1, 0], [-1, -1])] : []),
          ],
          0,
        ),
      ) as tf.Tensor2D,
    );
    chunk.dispose();
    const dots = this.products(g);
    for (let j = 0; j < this.m; j++) {
      this.gram[this.next * this.m + j] = dots[j]!;
      this.gram[j * this.m + this.next] = dots[j]!;
    }
    this.dots = dots;
    this.next = (this.next + 1) % this.m;
  }

  /** `sum_i z_i g_i` over the window (call inside a tidy). */
  combination(z: Float64Array): tf.Tensor2D {
    let offset = 0;
    return tf.addN(
      this.chunks.map((c) => {
        const rows = c.shape[0];
        const coefficients = tf.tensor2d(Float32Array.from(z.subarray(offset, offset + rows)), [
          1,
          rows,
        ]);
        offset += rows;
        return tf.matMul(coefficients, c);
      }),
    ) as tf.Tensor2D;
  }

  /** The window's chunks (live tensors) and the ring position. */
  named(): NamedTensor[] {
    this.nextTensor?.dispose();
    this.nextTensor = tf.keep(tf.scalar(this.next, 'int32'));
    return [
      ...this.chunks.map((tensor, i) => ({ name: `mfac/chunk/${i}`, tensor })),
      { name: 'mfac/next', tensor: this.nextTensor },
    ];
  }

  validate(state: Map<string, tf.Tensor>): void {
    const next = state.get('mfac/next');
    if (next == null || next.size !== 1) {
      throw new Error("MFAC.setWeights: expected a scalar entry 'mfac/next'");
    }
    const position = next.dataSync()[0]!;
    if (!Number.isInteger(position) || position < 0 || position >= this.m) {
      throw new Error(
        `MFAC.setWeights: 'mfac/next' must be an integer in [0, ${this.m}), got ${position}`,
      );
    }
    this.chunks.forEach((current, i) => {
      const name = `mfac/chunk/${i}`;
      const tensor = state.get(name);
      if (tensor == null || !tf.util.arraysEqual(tensor.shape, current.shape)) {
        throw new Error(
          `MFAC.setWeights: '${name}' must have shape [${current.shape}], ` +
            `got ${tensor == null ? 'nothing' : `[${tensor.shape}]`}`,
        );
      }
    });
    for (const name of state.keys()) {
      if (name !== 'mfac/next' && !/^mfac\/chunk\/\d+$/.test(name)) {
        throw new Error(`MFAC.setWeights: unexpected state entry '${name}'`);
      }
    }
    if (state.size !== this.chunks.length + 1) {
      throw new Error(
        `MFAC.setWeights: expected ${this.chunks.length} window chunks for m = ${this.m}`,
      );
    }
  }

  load(state: Map<string, tf.Tensor>): void {
    this.validate(state);
    const position = state.get('mfac/next')!.dataSync()[0]!;
    const copies = this.chunks.map((_, i) =>
      tf.keep(tf.clone(state.get(`mfac/chunk/${i}`)!) as tf.Tensor2D),
    );
    for (const c of this.chunks) c.dispose();
    this.chunks = copies;
    const gram = tf.tidy(() => {
      const window = tf.concat(this.chunks, 0);
      return tf.matMul(window, window, false, true);
    });
    this.gram.set(gram.dataSync());
    gram.dispose();
    this.next = position;
    this.dots = null;
  }

  dispose(): void {
    for (const c of this.chunks) c.dispose();
    this.chunks = [];
    this.nextTensor?.dispose();
    this.nextTensor = null;
  }
}

/**
 * M-FAC as an algorithm of the step pipeline: a window of gradients, matrix-free. Its momentum
 * dampening needs the base's momentum, which {@link MFAC} connects
 * (`GradientWindow.baseMomentum`); on its own (e.g. `new WrappingOptimizer(model, base,
 * options, mfacAlgorithm)`) it dampens nothing.
 */
export const mfacAlgorithm: TensorwiseAlgorithm<typeof OPTIONS, GradientWindow> = {
  kind: 'tensorwise',
  name: 'MFAC',
  options: OPTIONS,
  grafting: 'none',
  decayBeforeTransform: true,
  createState(variables, { m, maxWindowBytes }) {
    // Over the variables trainable now (a frozen backbone would multiply the window's memory):
    // layers unfrozen later keep their gradient.
    const order = variables.filter((v) => v.trainable).sort((a, b) => a.index - b.index);
    const size = order.reduce((n, v) => n + sizeOf(v.shape), 0);
    const bytes = m * size * 4;
    if (bytes > maxWindowBytes) {
      throw new Error(
        `MFAC: a window of m = ${m} gradients of ${size} parameters needs ` +
          `${formatBytes(bytes)}, more than maxWindowBytes = ${formatBytes(maxWindowBytes)}; ` +
          "lower 'm' or raise 'maxWindowBytes'",
      );
    }
    return new GradientWindow(m, order);
  },
  updateStatistics(window, gradients) {
    warnFrozenAtConstruction(
      'MFAC',
      gradients.map((g) => g.modelVariable),
      window.warnedFrozen,
    );
    const g = window.flatGradient(gradients);
    try {
      window.add(g);
    } finally {
      g.dispose();
    }
    return true;
  },
  transform(window, gradients, { damping: lambda, dampenMomentum }) {
    const dots = window.dots;
    window.dots = null;
    if (dots == null) return new Map();
    const z = mfacCoefficients(window.gram, window.m, window.m, lambda, dots);
    const g = window.flatGradient(gradients);
    const scale = dampenMomentum ? 1 - window.baseMomentum() : 1;
    const direction = tf.mul(
      tf.sub(tf.div(g, lambda), tf.div(window.combination(z), lambda * lambda)),
      scale,
    );
    const result = new Map<string, tf.Tensor>();
    let start = 0;
    const present = new Set(gradients.map((e) => e.name));
    for (const v of window.order) {
      const size = sizeOf(v.shape);
      if (present.has(v.name)) {
        result.set(v.name, tf.reshape(tf.slice(direction, [0, start], [1, size]), [...v.shape]));
      }
      start += size;
    }
    return result;
  },
};

/**
 * M-FAC: the update direction of the whole model is `F^-1 g` for the damped empirical Fisher of
 * the last `m` gradients (a ring buffer, zeros at start as in the reference), computed
 * matrix-free. As in the reference, weight decay joins the gradient before it enters the window.
 * The reference's momentum is dampened (`v = mu v + (1 - mu) u`): by default every direction is
 * scaled by `1 - mu` of the base optimizer's momentum (read from its configuration on every step;
 * 0 for bases without one), so a momentum base follows the reference's trajectory at the
 * reference's learning rate. `dampenMomentum: false` keeps the undamped `v = mu v + u`.
 *
 * Host reads: every step reads the m dot products of the new gradient with the window and
 * solves the m x m system in float64 on the host (the only optimizer here that reads back
 * every step; the reference also synchronises for its coefficients).
 */
export class MFAC extends WrappingOptimizer<GradientWindow> {
  static className = 'MFAC';

  /**
   * @param model the model whose parameters are optimized
   * @param base the tfjs optimizer that applies the update, e.g. `tf.train.momentum(lr, 0.9)`
   * @param options see {@link MFACOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: MFACOptions = {}) {
    super(model, base, options, mfacAlgorithm);
    this.state.baseMomentum = () => momentumOf(base);
  }

  /** The window size. */
  get m(): number {
    return this.state.m;
  }
}

registerWrappedOptimizer(MFAC);
