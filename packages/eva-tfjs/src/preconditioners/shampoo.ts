/**
 * Shampoo (Gupta et al. 2018) as Google's PyTorch port, the paper's baseline: a parameter tensor
 * is reshaped by merging consecutive small dimensions (product up to `blockSize`, size-1 axes
 * dropped); a tensor whose merged shape has order k >= 2 has every merged dimension larger than
 * `blockSize` cut into blocks, and each block keeps one statistic per axis, starting at
 * `matrixEps I`, `L_i += mat_i(G) mat_i(G)^T`, whose inverse 2k-th root preconditions that axis:
 * `P = G x_1 L_1^(-1/2k) ... x_k L_k^(-1/2k)`. The port's schedule: it counts steps from 1,
 * adds statistics on multiples of `facUpdateFreq` and recomputes roots on multiples of
 * `invUpdateFreq` (0-based steps k - 1, 2k - 1, ...); roots are the identity before that, and
 * the root of a 1x1 statistic stays the identity. Tensors of merged order <= 1 (biases, and
 * kernels such as a [4, 4] Dense kernel at blocks of 128, merged to [16]) are not preconditioned.
 *
 * With `rootWorker`, a refresh hands a snapshot of the statistics to a worker thread
 * ({@link DeferredMatrixFunctions}) and installs the roots of the previous refresh, which the thread
 * computed while training went on: the roots lag one refresh (as in distributed Shampoo's
 * asynchronous roots), the same in every run and across a resume (the roots waiting to be
 * installed are state, `next<b>_<axis>`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { inverseRoot } from '../linalg/inverse-root.js';
import type { LinalgMethod } from '../linalg/spd-inverse.js';
import type { TensorwiseAlgorithm, VariableGradient } from '../optimizer/algorithm.js';
import {
  checkWaitingResults,
  DeferredMatrixFunctions,
} from '../optimizer/deferred-matrix-functions.js';
import { warnFrozenAtConstruction, type ModelVariable } from '../optimizer/model-variables.js';
import {
  defineOptions,
  nonNegative,
  positiveInteger,
  unitInterval,
  type AssertDeclared,
} from '../optimizer/options.js';
import { registerWrappedOptimizer } from '../optimizer/serialization.js';
import { StateSlots, type SlotShapes } from '../optimizer/state-slots.js';
import {
  WrappingOptimizer,
  type WRAPPING_OPTIONS,
  type WrappingOptions,
} from '../optimizer/wrapping-optimizer.js';
import { INVERSE_OPTIONS } from './shared-options.js';

/** Merges consecutive dimensions while their product stays <= `maxDim`; drops size-1 axes. */
export function mergeSmallDims(shape: readonly number[], maxDim: number): number[] {
  const merged: number[] = [];
  let product = 1;
  for (const d of shape) {
    if (product * d <= maxDim) {
      product *= d;
    } else {
      if (product > 1) merged.push(product);
      product = d;
    }
  }
  if (product > 1) merged.push(product);
  return merged;
}

/** One block of a partitioned tensor. */
export interface Block {
  readonly begin: number[];
  readonly size: number[];
}

/** How a parameter tensor is reshaped and cut into blocks. */
export interface BlockLayout {
  /** The merged shape (empty: nothing to precondition). */
  readonly merged: number[];
  /** Per merged axis, the sizes of its pieces. */
  readonly pieces: number[][];
  /** Every block, in row-major order of the piece grid. */
  readonly blocks: Block[];
}

/**
 * The block layout of a tensor of `shape` for `blockSize` (see {@link preconditionsShape} for
 * which tensors Shampoo preconditions).
 */
export function blockLayout(shape: readonly number[], blockSize: number): BlockLayout {
  const merged = mergeSmallDims(shape, blockSize);
  const pieces = merged.map((d) => {
    const sizes: number[] = [];
    for (let start = 0; start < d; start += blockSize) sizes.push(Math.min(blockSize, d - start));
    return sizes;
  });
  let blocks: Block[] = merged.length === 0 ? [] : [{ begin: [], size: [] }];
  for (const sizes of pieces) {
    const next: Block[] = [];
    for (const block of blocks) {
      let start = 0;
      for (const size of sizes) {
        next.push({ begin: [...block.begin, start], size: [...block.size, size] });
        start += size;
      }
    }
    blocks = next;
  }
  return { merged, pieces, blocks };
}

/**
 * Whether Shampoo preconditions a tensor of `shape`: its merged shape has order >= 2, as in the
 * port (which leaves the others to grafting: their update is the gradient).
 */
export function preconditionsShape(shape: readonly number[], blockSize: number): boolean {
  return mergeSmallDims(shape, blockSize).length >= 2;
}

/** The blocks of `g` (any shape with the layout's element count); call inside a tidy. */
export function splitBlocks(g: tf.Tensor, layout: BlockLayout): tf.Tensor[] {
  const reshaped = tf.reshape(g, layout.merged);
  if (layout.blocks.length === 1) return [reshaped];
  return layout.blocks.map((b) => tf.slice(reshaped, b.begin, b.size));
}

/** Reassembles blocks (in layout order) into a tensor of `shape`; call inside a tidy. */
export function joinBlocks(
  blocks: tf.Tensor[],
  layout: BlockLayout,
  shape: readonly number[],
): tf.Tensor {
  const join = (items: tf.Tensor[], axis: number): tf.Tensor => {
    if (axis === layout.pieces.length) return items[0]!;
    const count = layout.pieces[axis]!.length;
    const stride = items.length / count;
    const parts: tf.Tensor[] = [];
    for (let p = 0; p < count; p++) {
      parts.push(join(items.slice(p * stride, (p + 1) * stride), axis + 1));
    }
    return parts.length === 1 ? parts[0]! : tf.concat(parts, axis);
  };
  return tf.reshape(join(blocks, 0), [...shape]);
}

/**
 * Moves axis 0 of `t` to the end (`[d0, d1, ..., dk] -> [d1, ..., dk, d0]`). Applying a matrix
 * to axis 0 and rotating, k times, visits every axis and restores the original order.
 */
function rotate(t: tf.Tensor): tf.Tensor {
  const order = t.shape.map((_, i) => (i + 1) % t.rank);
  return tf.transpose(t, order);
}

/** `mat_i(B) mat_i(B)^T` for every axis i of block `b`; call inside a tidy. */
export function blockStatistics(b: tf.Tensor): tf.Tensor2D[] {
  const result: tf.Tensor2D[] = [];
  let t = b;
  for (let axis = 0; axis < b.rank; axis++) {
    const m = tf.reshape(t, [t.shape[0]!, -1]) as tf.Tensor2D;
    result.push(tf.matMul(m, m, false, true));
    t = rotate(t);
  }
  return result;
}

/** `B x_1 P_1 ... x_k P_k` for symmetric `P_i`; call inside a tidy. */
export function applyBlockPreconditioners(b: tf.Tensor, preconditioners: tf.Tensor2D[]): tf.Tensor {
  let t = b;
  for (const p of preconditioners) {
    const shape = t.shape;
    const m = tf.matMul(p, tf.reshape(t, [shape[0]!, -1]) as tf.Tensor2D);
    t = rotate(tf.reshape(m, shape));
  }
  return t;
}

/** Options of {@link Shampoo}; defaults are the reference port's. */
export interface ShampooOptions extends WrappingOptions {
  /** Largest block side; larger dimensions are split, smaller ones merged (default 128). */
  blockSize?: number;
  /** Statistics decay: 1 (default) sums, < 1 averages exponentially. */
  beta2?: number;
  /** Statistics start at `matrixEps I`; the root's ridge is `matrixEps * lambda_max` (1e-12). */
  matrixEps?: number;
  /** Accumulate statistics on the last step of every this-many (default 1; the port's count). */
  facUpdateFreq?: number;
  /** Recompute the inverse roots on the last step of every this-many (default 1). */
  invUpdateFreq?: number;
  /** `'sgd'` (default): Shampoo's direction with the gradient's norm per tensor; `'none'`. */
  graft?: 'sgd' | 'none';
  /** `'host'` float64 eigendecomposition (default) or `'newton'` coupled Newton on tf ops. */
  linalg?: LinalgMethod;
  /**
   * Compute the roots in a worker thread on another core (Node only; `linalg: 'host'`): each
   * refresh's roots take effect at the next refresh instead of at once (default false). Mind
   * the lag with the default `matrixEps` 1e-12: in the quick start's setting the test loss
   * after 10 epochs was 0.348 against 0.185 synchronously (results/README.md): stale roots
   * amplify the newest gradient directions (with `matrixEps` 1e-4 the lag costs nothing, but
   * that ridge costs Shampoo more).
   */
  rootWorker?: boolean;
}

const OPTIONS = {
  ...defineOptions({
    blockSize: {
      kind: 'number',
      default: 128,
      constraint: positiveInteger,
      description: 'largest block side (larger dimensions split, smaller merged)',
    },
    beta2: {
      kind: 'number',
      default: 1,
      constraint: unitInterval,
      description: 'statistics decay (1: running sum; < 1: exponential average)',
    },
    matrixEps: {
      kind: 'number',
      default: 1e-12,
      constraint: nonNegative,
      description: 'initial statistic matrixEps I; root ridge matrixEps * lambda_max',
    },
    facUpdateFreq: {
      kind: 'number',
      default: 1,
      constraint: positiveInteger,
      description: 'statistics interval (steps; on the last step of each, as the port)',
    },
    graft: {
      kind: 'choice',
      default: 'sgd',
      choices: ['sgd', 'none'],
      description: "grafting: 'sgd' takes each gradient's norm per tensor",
    },
    rootWorker: {
      kind: 'boolean',
      default: false,
      description: 'roots in a worker thread (Node), taking effect one refresh later',
    },
  }),
  ...INVERSE_OPTIONS,
};
const declared: AssertDeclared<ShampooOptions, typeof WRAPPING_OPTIONS & typeof OPTIONS> = true;
void declared;

/** One statistic whose inverse root is computed (order > 1). */
interface RootedStatistic {
  readonly variable: ModelVariable;
  readonly block: number;
  readonly axis: number;
  readonly size: number;
  /** The root p: twice the block's order. */
  readonly exponent: number;
}

/**
 * Shampoo's state: block statistics and roots per preconditioned tensor, with each tensor's
 * block layout. Statistics start at `matrixEps I` and roots at the identity, as the port's.
 * With a root worker it also keeps `next<b>_<axis>`, the roots the next refresh installs
 * (identity at first), and the thread.
 */
export class ShampooState extends StateSlots<ModelVariable> {
  /** The statistics whose roots are computed, in a fixed order. */
  readonly rooted: readonly RootedStatistic[];
  /** With a root worker: the roots computed on it. */
  private readonly deferred: DeferredMatrixFunctions<ModelVariable> | null;
  /** Variables frozen at construction that were warned about. */
  private readonly warnedFrozen = new Set<string>();

  constructor(
    variables: readonly ModelVariable[],
    /** Block layouts by tf variable name (tensors of merged order >= 2). */
    readonly layouts: ReadonlyMap<string, BlockLayout>,
    matrixEps: number,
    /** Whether roots are computed by a worker thread (one refresh late). */
    readonly rootWorker = false,
  ) {
    const kinds = rootWorker ? ['stat', 'root', 'next'] : ['stat', 'root'];
    const shapes: SlotShapes<ModelVariable> = {};
    for (const v of variables) {
      const layout = layouts.get(v.name);
      layout?.blocks.forEach((block, b) => {
        block.size.forEach((_, axis) => {
          for (const kind of kinds) {
            const key = `${kind}${b}_${axis}`;
            const previous = shapes[key];
            shapes[key] = (owner) => {
              if (owner === v) return [block.size[axis]!, block.size[axis]!];
              return previous ? previous(owner) : null;
            };
          }
        });
      });
    }
    super('Shampoo', 'shampoo', variables, shapes);
    const rooted: RootedStatistic[] = [];
    for (const v of variables) {
      this.layouts.get(v.name)?.blocks.forEach((block, b) =>
        block.size.forEach((size, axis) => {
          // (In tidies: tf.eye makes intermediate tensors.)
          this.set(
            `stat${b}_${axis}`,
            v,
            tf.tidy(() => tf.mul(tf.eye(size), matrixEps)),
          );
          this.set(
            `root${b}_${axis}`,
            v,
            tf.tidy(() => tf.eye(size)),
          );
          if (rootWorker)
            this.set(
              `next${b}_${axis}`,
              v,
              tf.tidy(() => tf.eye(size)),
            );
          // The port's root of a 1x1 statistic is the identity (the initial root).
          if (size > 1) {
            rooted.push({ variable: v, block: b, axis, size, exponent: 2 * block.size.length });
          }
        }),
      );
    }
    this.rooted = rooted;
    this.deferred = rootWorker
      ? new DeferredMatrixFunctions(
          'Shampoo (rootWorker)',
          this,
          rooted.map(({ variable, block, axis, size, exponent }) => ({
            owner: variable,
            source: `stat${block}_${axis}`,
            target: `root${block}_${axis}`,
            next: `next${block}_${axis}`,
            size,
            operation: { kind: 'inverseRoot', p: exponent },
          })),
        )
      : null;
  }

  /** The roots of block `b` of `variable` (of order `order`), one per axis. */
  blockRoots(variable: ModelVariable, b: number, order: number): tf.Tensor2D[] {
    return Array.from(
      { length: order },
      (_, axis) => this.get(`root${b}_${axis}`, variable) as tf.Tensor2D,
    );
  }

  /** The gradients this state preconditions, each with its layout. */
  preconditioned(gradients: VariableGradient[]) {
    warnFrozenAtConstruction(
      'Shampoo',
      gradients.map((g) => g.modelVariable),
      this.warnedFrozen,
    );
    return gradients.flatMap((g) => {
      const layout = this.layouts.get(g.name);
      return layout == null ? [] : [{ ...g, layout }];
    });
  }

  /**
   * Also refuses a state saved with the other `rootWorker` setting, saying so, and one without
   * some preconditioned tensor's statistics (they exist from construction on: a state saved
   * by a Shampoo built with other layers frozen).
   */
  override validate(state: Map<string, tf.Tensor>): void {
    checkWaitingResults('Shampoo', 'rootWorker', this.rootWorker, state, /^root/);
    super.validate(state);
    if (state.size === 0) return;
    for (const { variable, block, axis } of this.rooted) {
      const name = `shampoo/${variable.index}/stat${block}_${axis}`;
      if (!state.has(name)) {
        throw new Error(
          `Shampoo.setWeights: the state lacks '${name}' (for '${variable.path}'); it was saved ` +
            'by a Shampoo that did not precondition this tensor (built with other layers frozen?)',
        );
      }
    }
  }

  /**
   * A refresh through the worker thread: installs the roots waiting in `next` (those of the
   * previous refresh) and hands the thread a snapshot of the statistics of the tensors in
   * `gradients` (as the synchronous refresh, which recomputes only their roots). Returns false
   * when none of them has a root to compute.
   */
  refreshThroughWorker(ridgeEpsilon: number, gradients: VariableGradient[]): boolean {
    const present = new Set(gradients.map((g) => g.name));
    return this.deferred!.refresh(
      () => this.rooted.map(() => ridgeEpsilon),
      (entry) => present.has(entry.owner.name),
    );
  }
}

/** Shampoo as an algorithm of the step pipeline: block statistics and their inverse roots. */
export const shampooAlgorithm: TensorwiseAlgorithm<typeof OPTIONS, ShampooState> = {
  kind: 'tensorwise',
  name: 'Shampoo',
  options: OPTIONS,
  statisticsInterval: 'facUpdateFreq',
  inverseInterval: 'invUpdateFreq',
  intervalStep: 'last',
  grafting: 'option',
  createState(variables, { blockSize, matrixEps, linalg, rootWorker }) {
    if (rootWorker && linalg !== 'host') {
      throw new Error(
        `Shampoo: rootWorker computes roots with the float64 'host' route; got linalg '${linalg}'`,
      );
    }
    const layouts = new Map<string, BlockLayout>();
    // The variables trainable now (statistics of a frozen backbone would cost memory for
    // nothing): layers unfrozen later keep their (grafted) gradient.
    for (const v of variables) {
      if (v.trainable && preconditionsShape(v.shape, blockSize)) {
        layouts.set(v.name, blockLayout(v.shape, blockSize));
      }
    }
    return new ShampooState(variables, layouts, matrixEps, rootWorker);
  },
  updateStatistics(state, gradients, { beta2 }) {
    const entries = state.preconditioned(gradients);
    for (const entry of entries) {
      const statistics = tf.tidy(() =>
        splitBlocks(entry.gradient, entry.layout).map((block) => blockStatistics(block)),
      );
      statistics.forEach((perAxis, b) =>
        perAxis.forEach((s, axis) => {
          state.accumulate(`stat${b}_${axis}`, entry.modelVariable, s, beta2);
          s.dispose();
        }),
      );
    }
    return entries.length > 0;
  },
  updateInverses(state, gradients, { matrixEps, linalg }) {
    if (state.rootWorker) return state.refreshThroughWorker(matrixEps, gradients);
    let updated = false;
    for (const entry of state.preconditioned(gradients)) {
      entry.layout.blocks.forEach((block, b) => {
        const exponent = 2 * block.size.length;
        block.size.forEach((size, axis) => {
          // The port's root of a 1x1 statistic is the identity (the initial root).
          if (size === 1) return;
          const statistic = state.get(`stat${b}_${axis}`, entry.modelVariable)!;
          const root = inverseRoot(statistic as tf.Tensor2D, exponent, matrixEps, linalg);
          state.set(`root${b}_${axis}`, entry.modelVariable, root);
          updated = true;
        });
      });
    }
    return updated;
  },
  transform(state, gradients) {
    const result = new Map<string, tf.Tensor>();
    for (const entry of state.preconditioned(gradients)) {
      const blocks = splitBlocks(entry.gradient, entry.layout).map((block, b) =>
        applyBlockPreconditioners(block, state.blockRoots(entry.modelVariable, b, block.rank)),
      );
      result.set(entry.name, joinBlocks(blocks, entry.layout, entry.gradient.shape));
    }
    return result;
  },
};

/**
 * Shampoo over every parameter tensor whose merged shape has order >= 2 (the others, biases and
 * small kernels, get the grafted update only, i.e. their gradient): per block and axis a
 * statistic `L_i`, preconditioner `(L_i + r I)^(-1/2k)` with `r = matrixEps * lambda_max`,
 * refreshed on the last step of every `invUpdateFreq` (identity before), as Google's port.
 */
export class Shampoo extends WrappingOptimizer<ShampooState> {
  static className = 'Shampoo';

  /**
   * @param model the model whose parameters are optimized
   * @param base the tfjs optimizer that applies the update; the reference uses Nesterov
   *   momentum 0.9 (`tf.train.momentum(lr, 0.9, true)`), updated in place as
   *   `new SGD({ learningRate, momentum: 0.9, nesterov: true, nesterovVariant: 'reference' })`
   *   does (the port's and the paper's Shampoo runs; by name: `nesterovVariant: 'reference'`)
   * @param options see {@link ShampooOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: ShampooOptions = {}) {
    super(model, base, options, shampooAlgorithm);
  }

  /** The block layout of a parameter (by tf variable name); undefined when not preconditioned. */
  layoutOf(variableName: string): BlockLayout | undefined {
    return this.state.layouts.get(variableName);
  }
}

registerWrappedOptimizer(Shampoo);
