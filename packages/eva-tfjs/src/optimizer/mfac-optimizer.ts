/** `MFAC`: the matrix-free M-FAC baseline as a `tf.Optimizer` wrapping a base optimizer. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { mfacCoefficients } from '../preconditioners/mfac.js';
import type { GradientEntry, NamedTensor } from './gradients.js';
import { checkNumber, positive, positiveInteger, rejectUnknownOptions } from './hyperparameter.js';
import type { ModelVariable } from './model-variables.js';
import { TensorwiseOptimizer } from './tensorwise-optimizer.js';
import {
  WRAPPING_OPTION_NAMES,
  type OptimizerState,
  type WrappingOptions,
} from './wrapping-optimizer.js';
import { registerWrappedOptimizer } from './serialization.js';

/** Options of {@link MFAC}; defaults are the reference's. */
export interface MFACOptions extends WrappingOptions {
  /** Window: how many recent gradients form the Fisher estimate (default 1024). */
  m?: number;
  /** Damping lambda of `lambda I + (1/m) sum g g^T` (default 1e-5). */
  damping?: number;
  /** Refuse windows larger than this many bytes (default 4 GiB; the window is m x d floats). */
  maxWindowBytes?: number;
}

const MFAC_OPTION_NAMES = [...WRAPPING_OPTION_NAMES, 'm', 'damping', 'maxWindowBytes'];

/** Rows per stored chunk of the window: replacing one gradient rewrites one chunk. */
const CHUNK_ROWS = 32;

/**
 * M-FAC: the update direction of the whole model is `F^-1 g` for the damped empirical Fisher of
 * the last `m` gradients (a ring buffer, zeros at start as in the reference), computed
 * matrix-free. As in the reference, weight decay joins the gradient before it enters the window.
 * The reference's momentum is dampened (`v = mu v + (1 - mu) u`); with tfjs's momentum base the
 * same trajectory needs a learning rate `1 - mu` times the reference's.
 *
 * Host reads: every step reads the m dot products of the new gradient with the window and
 * solves the m x m system in float64 on the host (the only optimizer here that reads back
 * every step; the reference also synchronises for its coefficients).
 */
export class MFAC extends TensorwiseOptimizer<null> {
  static className = 'MFAC';
  /** Every option name the constructor accepts. */
  static readonly optionNames: readonly string[] = MFAC_OPTION_NAMES;
  readonly m: number;
  private readonly damping: number;
  private readonly order: ModelVariable[];
  private readonly size: number;
  private chunks: tf.Tensor2D[] = [];
  private gram: Float64Array;
  private next = 0;
  private nextTensor: tf.Tensor | null = null;
  private dots: Float64Array | null = null;
  protected readonly state: OptimizerState = {
    named: () => this.namedState(),
    load: (state) => this.loadState(state),
    dispose: () => this.disposeState(),
  };

  /**
   * @param model the model whose parameters are optimized
   * @param base the tfjs optimizer that applies the update, e.g. `tf.train.momentum(lr, 0.9)`
   * @param options see {@link MFACOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: MFACOptions = {}) {
    rejectUnknownOptions('MFAC', options, MFAC_OPTION_NAMES);
    const m = checkNumber('m', options.m ?? 1024, positiveInteger);
    const damping = checkNumber('damping', options.damping ?? 1e-5, positive);
    const maxWindowBytes = checkNumber(
      'maxWindowBytes',
      options.maxWindowBytes ?? 2 ** 32,
      positive,
    );
    super(model, base, options);
    this.decayBeforeTransform = true;
    this.m = m;
    this.damping = damping;
    this.order = [...this.variables.values()].sort((a, b) => a.index - b.index);
    this.size = this.order.reduce((n, v) => n + v.shape.reduce((p, d) => p * d, 1), 0);
    const bytes = m * this.size * 4;
    if (bytes > maxWindowBytes) {
      throw new Error(
        `MFAC: a window of m = ${m} gradients of ${this.size} parameters needs ` +
          `${(bytes / 2 ** 30).toFixed(2)} GiB, more than maxWindowBytes = ` +
          `${(maxWindowBytes / 2 ** 30).toFixed(2)} GiB; lower 'm' or raise 'maxWindowBytes'`,
      );
    }
    this.gram = new Float64Array(m * m);
    this.resetWindow();
  }

  override getClassName(): string {
    return MFAC.className;
  }

  private resetWindow(): void {
    for (const c of this.chunks) c.dispose();
    this.chunks = [];
    for (let start = 0; start < this.m; start += CHUNK_ROWS) {
      this.chunks.push(tf.keep(tf.zeros([Math.min(CHUNK_ROWS, this.m - start), this.size])));
    }
    this.gram.fill(0);
    this.next = 0;
  }

  protected resolveStep(): null {
    return null;
  }

  /** The model's gradients as one flat vector in parameter order (missing ones as zeros). */
  private flatGradient(gradients: GradientEntry[]): tf.Tensor2D {
    return tf.tidy(() => {
      const byName = new Map(gradients.map((g) => [g.name, g.gradient]));
      const parts = this.order.map((v) => {
        const g = byName.get(v.name);
        return g == null
          ? tf.zeros([1, v.shape.reduce((p, d) => p * d, 1)])
          : tf.reshape(g, [1, -1]);
      });
      return tf.concat(parts, 1) as tf.Tensor2D;
    });
  }

  /** `window x` as float64 (one host read). */
  private windowProducts(x: tf.Tensor2D): Float64Array {
    const products = tf.tidy(() =>
      tf.concat(this.chunks.map((c) => tf.reshape(tf.matMul(c, x, false, true), [-1]))),
    );
    const values = Float64Array.from(products.dataSync());
    products.dispose();
    return values;
  }

  protected updateState(gradients: GradientEntry[]): void {
    const g = this.flatGradient(gradients);
    try {
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
      const dots = this.windowProducts(g);
      for (let j = 0; j < this.m; j++) {
        this.gram[this.next * this.m + j] = dots[j]!;
        this.gram[j * this.m + this.next] = dots[j]!;
      }
      this.dots = dots;
      this.next = (this.next + 1) % this.m;
    } finally {
      g.dispose();
    }
  }

  protected transformGradients(gradients: GradientEntry[]): Map<string, tf.Tensor> {
    const dots = this.dots;
    this.dots = null;
    if (dots == null) return new Map();
    const lambda = this.damping;
    const z = mfacCoefficients(this.gram, this.m, this.m, lambda, dots);
    const g = this.flatGradient(gradients);
    let offset = 0;
    const combination = tf.addN(
      this.chunks.map((c) => {
        const rows = c.shape[0];
        const coefficients = tf.tensor2d(Float32Array.from(z.subarray(offset, offset + rows)), [
          1,
          rows,
        ]);
        offset += rows;
        return tf.matMul(coefficients, c);
      }),
    );
    const direction = tf.sub(tf.div(g, lambda), tf.div(combination, lambda * lambda));
    const result = new Map<string, tf.Tensor>();
    let start = 0;
    const byName = new Set(gradients.map((e) => e.name));
    for (const v of this.order) {
      const size = v.shape.reduce((p, d) => p * d, 1);
      if (byName.has(v.name)) {
        result.set(v.name, tf.reshape(tf.slice(direction, [0, start], [1, size]), [...v.shape]));
      }
      start += size;
    }
    return result;
  }

  /** State: the window's chunks (live tensors) and the ring position. */
  private namedState(): NamedTensor[] {
    this.nextTensor?.dispose();
    this.nextTensor = tf.keep(tf.scalar(this.next, 'int32'));
    return [
      ...this.chunks.map((tensor, i) => ({ name: `mfac/chunk/${i}`, tensor })),
      { name: 'mfac/next', tensor: this.nextTensor },
    ];
  }

  private loadState(state: Map<string, tf.Tensor>): void {
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
    const chunks = this.chunks.map((current, i) => {
      const name = `mfac/chunk/${i}`;
      const tensor = state.get(name);
      if (tensor == null || !tf.util.arraysEqual(tensor.shape, current.shape)) {
        throw new Error(
          `MFAC.setWeights: '${name}' must have shape [${current.shape}], ` +
            `got ${tensor == null ? 'nothing' : `[${tensor.shape}]`}`,
        );
      }
      return tensor;
    });
    for (const name of state.keys()) {
      if (name !== 'mfac/next' && !/^mfac\/chunk\/\d+$/.test(name)) {
        throw new Error(`MFAC.setWeights: unexpected state entry '${name}'`);
      }
    }
    if (state.size !== chunks.length + 1) {
      throw new Error(`MFAC.setWeights: expected ${chunks.length} window chunks for m = ${this.m}`);
    }
    for (const c of this.chunks) c.dispose();
    this.chunks = chunks.map((c) => tf.keep(tf.clone(c) as tf.Tensor2D));
    const gram = tf.tidy(() => {
      const window = tf.concat(this.chunks, 0);
      return tf.matMul(window, window, false, true);
    });
    this.gram = Float64Array.from(gram.dataSync());
    gram.dispose();
    this.next = position;
  }

  private disposeState(): void {
    for (const c of this.chunks) c.dispose();
    this.chunks = [];
    this.nextTensor?.dispose();
    this.nextTensor = null;
  }
}

registerWrappedOptimizer(MFAC);
