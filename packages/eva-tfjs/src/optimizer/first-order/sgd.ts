/**
 * SGD with momentum, Nesterov and L2 weight decay with PyTorch's semantics (tfjs's momentum
 * optimizer has no weight decay): `d = grad + wd * w; buf = mu * buf + d; w -= lr * (nesterov ?
 * d + mu * buf : buf)`. The `'reference'` Nesterov variant is the one of Google's PyTorch
 * Shampoo port, which the Eva authors' Shampoo and Eva-s runs used: the buffer is updated in
 * place a second time and is the step, `buf = mu * buf + d; buf = mu * buf + d; w -= lr * buf`
 * (in effect `buf = mu^2 buf + (1 + mu) d`).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  defineOptions,
  fraction,
  NON_FINITE_OPTION,
  nonNegative,
  type NonFinitePolicy,
} from '../options.js';
import { SlotOptimizer } from './slot-optimizer.js';

/** Options of {@link SGD}. */
export interface SGDOptions {
  /** Learning rate (required). */
  learningRate: number;
  /** Momentum mu in [0, 1) (default 0: plain SGD). */
  momentum?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
  /**
   * Which Nesterov update: `'standard'` (default, PyTorch's: step `d + mu buf`) or `'reference'`
   * (Google's Shampoo port, in place: `buf = mu^2 buf + (1 + mu) d`, step `buf`); needs
   * `nesterov: true`.
   */
  nesterovVariant?: NesterovVariant;
  /** L2 weight decay added to the gradient (default 0). */
  weightDecay?: number;
  /** Non-finite gradients: `'skip'` the step (default) or `'throw'`. */
  onNonFinite?: NonFinitePolicy;
}

/** The Nesterov updates {@link SGD} offers (see {@link SGDOptions.nesterovVariant}). */
export type NesterovVariant = 'standard' | 'reference';

/**
 * The declaration of {@link SGDOptions.nesterovVariant}, shared with the second-order
 * optimizers' SGD base in the registry.
 */
export const NESTEROV_VARIANT_OPTION = defineOptions({
  nesterovVariant: {
    kind: 'choice',
    default: 'standard',
    choices: ['standard', 'reference'] satisfies NesterovVariant[],
    description:
      "Nesterov update: 'standard' (PyTorch: step d + mu buf) or 'reference' (Shampoo port, " +
      'in place: buf = mu^2 buf + (1 + mu) d, step buf)',
  },
});

/** The declarations of {@link SGDOptions} (besides the learning rate). */
export const SGD_OPTIONS = defineOptions({
  momentum: { kind: 'number', default: 0, constraint: fraction, description: 'momentum mu' },
  nesterov: { kind: 'boolean', default: false, description: 'Nesterov momentum' },
  ...NESTEROV_VARIANT_OPTION,
  weightDecay: {
    kind: 'number',
    default: 0,
    constraint: nonNegative,
    description: 'L2 weight decay added to the gradient',
  },
  ...NON_FINITE_OPTION,
});

/** SGD / momentum / Nesterov with weight decay; momentum buffers kept by variable position. */
export class SGD extends SlotOptimizer<typeof SGD_OPTIONS> {
  static className = 'EvaTfjsSGD';

  constructor(options: SGDOptions) {
    super('SGD', SGD_OPTIONS, { ...options }, ({ momentum }) => (momentum > 0 ? ['momentum'] : []));
    if (this.nesterov && this.momentum === 0) {
      throw new Error("SGD: Option 'nesterov' needs a momentum > 0");
    }
    if (this.nesterovVariant === 'reference' && !this.nesterov) {
      throw new Error(
        "SGD: Option 'nesterovVariant' 'reference' needs Nesterov momentum (nesterov: true, momentum > 0)",
      );
    }
  }

  override getClassName(): string {
    return SGD.className;
  }

  /** Momentum mu. */
  get momentum(): number {
    return this.values.momentum;
  }

  /** Whether the momentum is Nesterov's. */
  get nesterov(): boolean {
    return this.values.nesterov;
  }

  /** Which Nesterov update (see {@link SGDOptions.nesterovVariant}). */
  get nesterovVariant(): NesterovVariant {
    return this.values.nesterovVariant;
  }

  /** L2 weight decay. */
  get weightDecay(): number {
    return this.values.weightDecay;
  }

  protected update(variable: tf.Variable, gradient: tf.Tensor, [buffer]: tf.Variable[]): void {
    let d = this.weightDecay > 0 ? tf.add(gradient, tf.mul(variable, this.weightDecay)) : gradient;
    if (buffer != null) {
      const mu = this.momentum;
      const next = tf.add(tf.mul(buffer, mu), d);
      if (this.nesterov && this.nesterovVariant === 'reference') {
        const again = tf.add(tf.mul(next, mu), d);
        buffer.assign(again);
        d = again;
      } else {
        buffer.assign(next);
        d = this.nesterov ? tf.add(d, tf.mul(next, mu)) : next;
      }
    }
    variable.assign(tf.sub(variable, tf.mul(d, this.learningRate)));
  }
}

tf.serialization.registerClass(SGD);
