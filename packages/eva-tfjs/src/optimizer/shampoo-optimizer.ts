/** `Shampoo`: the block-partitioned Shampoo baseline as a `tf.Optimizer` wrapping a base optimizer. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { inverseRoot } from '../linalg/inverse-root.js';
import type { LinalgMethod } from '../linalg/spd-inverse.js';
import { graftToNorm } from '../preconditioners/eva-s.js';
import {
  applyBlockPreconditioners,
  blockLayout,
  blockStatistics,
  joinBlocks,
  splitBlocks,
  type BlockLayout,
} from '../preconditioners/shampoo.js';
import type { GradientEntry } from './gradients.js';
import {
  checkChoice,
  checkNumber,
  nonNegative,
  positiveInteger,
  rejectUnknownOptions,
  unitInterval,
} from './hyperparameter.js';
import type { ModelVariable } from './model-variables.js';
import { StateSlots, type SlotShapes } from './state-slots.js';
import { TensorwiseOptimizer } from './tensorwise-optimizer.js';
import { WRAPPING_OPTION_NAMES, type WrappingOptions } from './wrapping-optimizer.js';
import { registerWrappedOptimizer } from './serialization.js';

/** Options of {@link Shampoo}; defaults are the reference port's. */
export interface ShampooOptions extends WrappingOptions {
  /** Largest block side; larger dimensions are split, smaller ones merged (default 128). */
  blockSize?: number;
  /** Statistics decay: 1 (default) sums, < 1 averages exponentially. */
  beta2?: number;
  /** Statistics start at `matrixEps I`; the root's ridge is `matrixEps * lambda_max` (1e-12). */
  matrixEps?: number;
  /** Accumulate statistics every this-many steps (default 1). */
  facUpdateFreq?: number;
  /** Recompute the inverse roots every this-many steps (default 1). */
  invUpdateFreq?: number;
  /** `'sgd'` (default): Shampoo's direction with the gradient's norm per tensor; `'none'`. */
  graft?: 'sgd' | 'none';
  /** `'host'` float64 eigendecomposition (default) or `'newton'` coupled Newton on tf ops. */
  linalg?: LinalgMethod;
}

const SHAMPOO_OPTION_NAMES = [
  ...WRAPPING_OPTION_NAMES,
  'blockSize',
  'beta2',
  'matrixEps',
  'facUpdateFreq',
  'invUpdateFreq',
  'graft',
  'linalg',
];

/**
 * Shampoo over every parameter tensor of order >= 2 (vectors such as biases get the grafted
 * update only, i.e. their gradient): per block and axis a statistic `L_i`, preconditioner
 * `(L_i + r I)^(-1/2k)` with `r = matrixEps * lambda_max`, refreshed every `invUpdateFreq` steps.
 */
export class Shampoo extends TensorwiseOptimizer<null> {
  static className = 'Shampoo';
  /** Every option name the constructor accepts. */
  static readonly optionNames: readonly string[] = SHAMPOO_OPTION_NAMES;
  /** Steps on which the inverse roots were recomputed. */
  inverseUpdates = 0;
  /** Steps on which statistics were accumulated. */
  statisticsUpdates = 0;
  private readonly blockSize: number;
  private readonly beta2: number;
  private readonly matrixEps: number;
  private readonly facUpdateFreq: number;
  private readonly invUpdateFreq: number;
  private readonly graft: 'sgd' | 'none';
  private readonly linalg: LinalgMethod;
  private readonly layouts = new Map<string, BlockLayout>();
  protected readonly state: StateSlots<ModelVariable>;

  /**
   * @param model the model whose parameters are optimized
   * @param base the tfjs optimizer that applies the update; the reference uses Nesterov
   *   momentum 0.9: `tf.train.momentum(lr, 0.9, true)`
   * @param options see {@link ShampooOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: ShampooOptions = {}) {
    rejectUnknownOptions('Shampoo', options, SHAMPOO_OPTION_NAMES);
    const blockSize = checkNumber('blockSize', options.blockSize ?? 128, positiveInteger);
    const beta2 = checkNumber('beta2', options.beta2 ?? 1, unitInterval);
    const matrixEps = checkNumber('matrixEps', options.matrixEps ?? 1e-12, nonNegative);
    const facUpdateFreq = checkNumber('facUpdateFreq', options.facUpdateFreq ?? 1, positiveInteger);
    const invUpdateFreq = checkNumber('invUpdateFreq', options.invUpdateFreq ?? 1, positiveInteger);
    const graft = checkChoice('graft', options.graft ?? 'sgd', ['sgd', 'none'] as const);
    const linalg = checkChoice('linalg', options.linalg ?? 'host', ['host', 'newton'] as const);
    super(model, base, options);
    this.blockSize = blockSize;
    this.beta2 = beta2;
    this.matrixEps = matrixEps;
    this.facUpdateFreq = facUpdateFreq;
    this.invUpdateFreq = invUpdateFreq;
    this.graft = graft;
    this.linalg = linalg;
    const shapes: SlotShapes<ModelVariable> = {};
    for (const v of this.variables.values()) {
      if (v.shape.length < 2) continue;
      const layout = blockLayout(v.shape, blockSize);
      this.layouts.set(v.name, layout);
      layout.blocks.forEach((block, b) => {
        block.size.forEach((_, axis) => {
          for (const kind of ['stat', 'root']) {
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
    this.state = new StateSlots('Shampoo', 'shampoo', [...this.variables.values()], shapes);
  }

  override getClassName(): string {
    return Shampoo.className;
  }

  /** The block layout of a parameter (by tf variable name), or undefined for vectors. */
  layoutOf(variableName: string): BlockLayout | undefined {
    return this.layouts.get(variableName);
  }

  protected resolveStep(): null {
    return null;
  }

  private preconditioned(gradients: GradientEntry[]) {
    return this.modelGradients(gradients).flatMap((g) => {
      const layout = this.layouts.get(g.name);
      return layout == null || layout.blocks.length === 0 ? [] : [{ ...g, layout }];
    });
  }

  protected updateState(gradients: GradientEntry[]): void {
    const step = this.iterations;
    const entries = this.preconditioned(gradients);
    if (step % this.facUpdateFreq === 0 && entries.length > 0) {
      for (const entry of entries) {
        const statistics = tf.tidy(() =>
          splitBlocks(entry.gradient, entry.layout).map((block) => blockStatistics(block)),
        );
        statistics.forEach((perAxis, b) =>
          perAxis.forEach((s, axis) => {
            const key = `stat${b}_${axis}`;
            if (this.state.get(key, entry.modelVariable) == null) {
              this.state.set(key, entry.modelVariable, tf.mul(tf.eye(s.shape[0]), this.matrixEps));
            }
            this.state.accumulate(key, entry.modelVariable, s, this.beta2);
            s.dispose();
          }),
        );
      }
      this.statisticsUpdates += 1;
    }
    if (step % this.invUpdateFreq === 0) {
      let updated = false;
      for (const entry of entries) {
        entry.layout.blocks.forEach((block, b) => {
          const exponent = 2 * block.size.length;
          block.size.forEach((_, axis) => {
            const statistic = this.state.get(`stat${b}_${axis}`, entry.modelVariable);
            if (statistic == null) return;
            const root = inverseRoot(
              statistic as tf.Tensor2D,
              exponent,
              this.matrixEps,
              this.linalg,
            );
            this.state.set(`root${b}_${axis}`, entry.modelVariable, root);
            updated = true;
          });
        });
      }
      if (updated) this.inverseUpdates += 1;
    }
  }

  protected transformGradients(gradients: GradientEntry[]): Map<string, tf.Tensor> {
    const result = new Map<string, tf.Tensor>();
    for (const entry of this.preconditioned(gradients)) {
      const roots = entry.layout.blocks.map((block, b) =>
        block.size.map((_, axis) => this.state.get(`root${b}_${axis}`, entry.modelVariable)),
      );
      if (roots.some((r) => r.some((t) => t == null))) continue;
      const blocks = splitBlocks(entry.gradient, entry.layout).map((block, b) =>
        applyBlockPreconditioners(block, roots[b] as tf.Tensor2D[]),
      );
      const direction = joinBlocks(blocks, entry.layout, entry.gradient.shape);
      result.set(
        entry.name,
        this.graft === 'sgd' ? graftToNorm(direction, entry.gradient) : direction,
      );
    }
    return result;
  }
}

registerWrappedOptimizer(Shampoo);
