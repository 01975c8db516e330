/**
 * Adagrad, Adam and AdamW with PyTorch's formulas and defaults, so that the paper's first-order
 * baselines behave here as they did there: L2 weight decay is added to the gradient (Adagrad,
 * Adam), AdamW decays the weights directly (`w -= lr * wd * w`, decoupled; tfjs has no AdamW).
 * State: one or two slot variables per parameter, by position, as tfjs's optimizers keep them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gradientEntries, type GradientInput, type NamedTensor } from '../gradients.js';
import { withoutCustomObjects } from '../serialization.js';
import {
  checkNumber,
  defineOptions,
  fraction,
  nonNegative,
  positive,
  validateOptions,
} from '../options.js';

/** Options of {@link Adagrad}. */
export interface AdagradOptions {
  learningRate: number;
  /** Added to the root of the accumulator (default 1e-10, PyTorch's). */
  epsilon?: number;
  /** Initial accumulator value (default 0, PyTorch's). */
  initialAccumulatorValue?: number;
  /** L2 weight decay added to the gradient (default 0). */
  weightDecay?: number;
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

/** Shared plumbing: learning rate, per-parameter slots by position, state round-trip. */
abstract class SlotOptimizer extends tf.Optimizer {
  protected learningRate: number;
  protected slots: tf.Variable[][] = [];

  protected constructor(
    learningRate: number,
    private readonly slotNames: readonly string[],
  ) {
    super();
    this.learningRate = checkNumber('learningRate', learningRate, positive);
  }

  /** Builds the optimizer from its saved configuration (what tfjs passes when loading). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(withoutCustomObjects(config));
  }

  /** Sets the learning rate used from the next step on (for schedules). */
  setLearningRate(learningRate: number): void {
    this.learningRate = checkNumber('learningRate', learningRate, positive);
  }

  /** The current learning rate. */
  getLearningRate(): number {
    return this.learningRate;
  }

  /** The slots of parameter `i`, created with `initial` on first use. */
  protected slotsFor(i: number, variable: tf.Variable, initial: number): tf.Variable[] {
    let slots = this.slots[i];
    if (slots == null) {
      slots = this.slotNames.map(() => tf.variable(tf.fill(variable.shape, initial), false));
      this.slots[i] = slots;
    }
    return slots;
  }

  /** One update of `variable` from `gradient` with its slots; runs inside a tidy. */
  protected abstract update(variable: tf.Variable, gradient: tf.Tensor, slots: tf.Variable[]): void;

  /** Initial slot value. */
  protected initialSlotValue(): number {
    return 0;
  }

  applyGradients(variableGradients: GradientInput): void {
    const entries = gradientEntries(variableGradients);
    this.incrementIterations();
    entries.forEach(({ variable, gradient }, i) => {
      const slots = this.slotsFor(i, variable, this.initialSlotValue());
      tf.tidy(() => this.update(variable, gradient, slots));
    });
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const named = this.slots.flatMap((slots, i) =>
      slots.map((tensor, s) => ({ name: `${this.slotNames[s]}/${i}`, tensor })),
    );
    return [await this.saveIterations(), ...named];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const per = this.slotNames.length;
    if (rest.length % per !== 0) {
      throw new Error(
        `${this.getClassName()}.setWeights: expected ${per} slot(s) per parameter, got ${rest.length} tensors`,
      );
    }
    const next: tf.Variable[][] = [];
    for (let i = 0; i < rest.length; i += per) {
      next.push(rest.slice(i, i + per).map((w) => tf.variable(w.tensor, false)));
    }
    for (const slots of this.slots) for (const v of slots) v.dispose();
    this.slots = next;
  }

  override dispose(): void {
    for (const slots of this.slots) for (const v of slots) v.dispose();
    this.slots = [];
    super.dispose();
  }
}

/** Adagrad (PyTorch semantics): `s += g^2; w -= lr g / (sqrt(s) + eps)`. */
export class Adagrad extends SlotOptimizer {
  static className = 'EvaTfjsAdagrad';
  readonly epsilon: number;
  readonly initialAccumulatorValue: number;
  readonly weightDecay: number;

  constructor(options: AdagradOptions) {
    const { learningRate, ...rest } = options;
    const values = validateOptions('Adagrad', ADAGRAD_OPTIONS, rest);
    super(learningRate, ['accumulator']);
    this.epsilon = values.epsilon;
    this.initialAccumulatorValue = values.initialAccumulatorValue;
    this.weightDecay = values.weightDecay;
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

  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      epsilon: this.epsilon,
      initialAccumulatorValue: this.initialAccumulatorValue,
      weightDecay: this.weightDecay,
    };
  }
}

/** Adam (PyTorch semantics, L2 weight decay added to the gradient). */
export class Adam extends SlotOptimizer {
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
    const { learningRate, ...rest } = options;
    const values = validateOptions(owner, specs, rest);
    super(learningRate, ['m', 'v']);
    this.beta1 = values.beta1;
    this.beta2 = values.beta2;
    this.epsilon = values.epsilon;
    this.weightDecay = values.weightDecay;
  }

  override getClassName(): string {
    return Adam.className;
  }

  protected update(variable: tf.Variable, gradient: tf.Tensor, [m, v]: tf.Variable[]): void {
    const t = this.iterations;
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

  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      weightDecay: this.weightDecay,
    };
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
