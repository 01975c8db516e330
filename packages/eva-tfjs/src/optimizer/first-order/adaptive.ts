/**
 * Adagrad, Adam and AdamW with PyTorch's formulas and defaults, so that the paper's first-order
 * baselines behave here as they did there: L2 weight decay is added to the gradient (Adagrad,
 * Adam), AdamW decays the weights directly (`w -= lr * wd * w`, decoupled; tfjs has no AdamW).
 * State: one or two slot variables per parameter, kept with their variable (see parameter-slots.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  defineOptions,
  fraction,
  NON_FINITE_OPTION,
  nonNegative,
  positive,
  type NonFinitePolicy,
} from '../options.js';
import { SlotOptimizer } from './slot-optimizer.js';

/** Options of {@link Adagrad}. */
export interface AdagradOptions {
  learningRate: number;
  /** Added to the root of the accumulator (default 1e-10, PyTorch's). */
  epsilon?: number;
  /** Initial accumulator value (default 0, PyTorch's). */
  initialAccumulatorValue?: number;
  /** L2 weight decay added to the gradient (default 0). */
  weightDecay?: number;
  /** Non-finite gradients: `'skip'` the step (default) or `'throw'`. */
  onNonFinite?: NonFinitePolicy;
}

/** Options of {@link Adam} and {@link AdamW}. */
export interface AdamOptions {
  learningRate: number;
  /** First-moment decay (default 0.9). */
  beta1?: number;
  /** Second-moment decay (default 0.999). */
  beta2?: number;
  /** Added to the root of the second moment (default 1e-8, PyTorch's). */
  epsilon?: number;
  /** Adam: L2 added to the gradient; AdamW: decoupled decay (defaults 0 and 0.01). */
  weightDecay?: number;
  /** Non-finite gradients: `'skip'` the step (default) or `'throw'`. */
  onNonFinite?: NonFinitePolicy;
}

/** The declarations of {@link AdagradOptions} (besides the learning rate). */
export const ADAGRAD_OPTIONS = defineOptions({
  epsilon: {
    kind: 'number',
    default: 1e-10,
    constraint: positive,
    description: 'added to the root of the accumulator',
  },
  initialAccumulatorValue: {
    kind: 'number',
    default: 0,
    constraint: nonNegative,
    description: 'initial accumulator value',
  },
  weightDecay: {
    kind: 'number',
    default: 0,
    constraint: nonNegative,
    description: 'L2 weight decay added to the gradient',
  },
  ...NON_FINITE_OPTION,
});

const ADAM_MOMENTS = defineOptions({
  beta1: { kind: 'number', default: 0.9, constraint: fraction, description: 'first-moment decay' },
  beta2: {
    kind: 'number',
    default: 0.999,
    constraint: fraction,
    description: 'second-moment decay',
  },
  epsilon: {
    kind: 'number',
    default: 1e-8,
    constraint: positive,
    description: 'added to the root of the second moment',
  },
  ...NON_FINITE_OPTION,
});

/** The declarations of Adam's {@link AdamOptions} (besides the learning rate). */
export const ADAM_OPTIONS = defineOptions({
  ...ADAM_MOMENTS,
  weightDecay: {
    kind: 'number',
    default: 0,
    constraint: nonNegative,
    description: 'L2 weight decay added to the gradient',
  },
});

/** The declarations of AdamW's {@link AdamOptions} (besides the learning rate). */
export const ADAMW_OPTIONS = defineOptions({
  ...ADAM_MOMENTS,
  weightDecay: {
    kind: 'number',
    default: 0.01,
    constraint: nonNegative,
    description: 'decoupled weight decay (w -= lr * wd * w)',
  },
});

/** Adagrad (PyTorch semantics): `s += g^2; w -= lr g / (sqrt(s) + eps)`. */
export class Adagrad extends SlotOptimizer<typeof ADAGRAD_OPTIONS> {
  static className = 'EvaTfjsAdagrad';
  readonly epsilon: number;
  readonly initialAccumulatorValue: number;
  readonly weightDecay: number;

  constructor(options: AdagradOptions) {
    super('Adagrad', ADAGRAD_OPTIONS, { ...options }, ['accumulator']);
    this.epsilon = this.values.epsilon;
    this.initialAccumulatorValue = this.values.initialAccumulatorValue;
    this.weightDecay = this.values.weightDecay;
  }

  override getClassName(): string {
    return Adagrad.className;
  }

  protected override initialSlotValue(): number {
    return this.initialAccumulatorValue;
  }

  protected update(variable: tf.Variable, gradient: tf.Tensor, [sum]: tf.Variable[]): void {
    const g =
      this.weightDecay > 0 ? tf.add(gradient, tf.mul(variable, this.weightDecay)) : gradient;
    sum!.assign(tf.add(sum!, tf.square(g)));
    const step = tf.div(g, tf.add(tf.sqrt(sum!), this.epsilon));
    variable.assign(tf.sub(variable, tf.mul(step, this.learningRate)));
  }
}

/** Adam (PyTorch semantics, L2 weight decay added to the gradient). */
export class Adam extends SlotOptimizer<typeof ADAM_OPTIONS | typeof ADAMW_OPTIONS> {
  static className = 'EvaTfjsAdam';
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** Whether weight decay is decoupled (AdamW). */
  protected readonly decoupled: boolean = false;

  constructor(
    options: AdamOptions,
    specs: typeof ADAM_OPTIONS | typeof ADAMW_OPTIONS = ADAM_OPTIONS,
    owner = 'Adam',
  ) {
    super(owner, specs, { ...options }, ['m', 'v']);
    this.beta1 = this.values.beta1;
    this.beta2 = this.values.beta2;
    this.epsilon = this.values.epsilon;
    this.weightDecay = this.values.weightDecay;
  }

  override getClassName(): string {
    return Adam.className;
  }

  protected update(
    variable: tf.Variable,
    gradient: tf.Tensor,
    [m, v]: tf.Variable[],
    t: number,
  ): void {
    let weights: tf.Tensor = variable;
    let g = gradient;
    if (this.weightDecay > 0) {
      if (this.decoupled) weights = tf.mul(variable, 1 - this.learningRate * this.weightDecay);
      else g = tf.add(gradient, tf.mul(variable, this.weightDecay));
    }
    m!.assign(tf.add(tf.mul(m!, this.beta1), tf.mul(g, 1 - this.beta1)));
    v!.assign(tf.add(tf.mul(v!, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
    const mHat = tf.div(m!, 1 - Math.pow(this.beta1, t));
    const vHat = tf.div(v!, 1 - Math.pow(this.beta2, t));
    const step = tf.div(mHat, tf.add(tf.sqrt(vHat), this.epsilon));
    variable.assign(tf.sub(weights, tf.mul(step, this.learningRate)));
  }
}

/** AdamW (Loshchilov & Hutter; PyTorch semantics): `w -= lr * wd * w`, then Adam without L2. */
export class AdamW extends Adam {
  static override className = 'EvaTfjsAdamW';
  protected override readonly decoupled: boolean = true;

  constructor(options: AdamOptions) {
    super(options, ADAMW_OPTIONS, 'AdamW');
  }

  override getClassName(): string {
    return AdamW.className;
  }
}

for (const cls of [Adagrad, Adam, AdamW]) tf.serialization.registerClass(cls);
