/**
 * SGD with momentum, Nesterov and L2 weight decay with PyTorch's semantics (tfjs's momentum
 * optimizer has no weight decay): `d = grad + wd * w; buf = mu * buf + d; w -= lr * (nesterov ?
 * d + mu * buf : buf)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '../gradients.js';
import { gradientEntries, type GradientInput } from '../gradients.js';
import { withoutCustomObjects } from '../serialization.js';
import {
  checkNumber,
  defineOptions,
  fraction,
  nonNegative,
  positive,
  validateOptions,
} from '../options.js';

/** Options of {@link SGD}. */
export interface SGDOptions {
  /** Learning rate (required). */
  learningRate: number;
  /** Momentum mu in [0, 1) (default 0: plain SGD). */
  momentum?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
  /** L2 weight decay added to the gradient (default 0). */
  weightDecay?: number;
}

/** The declarations of {@link SGDOptions} (besides the learning rate). */
export const SGD_OPTIONS = defineOptions({
  momentum: { kind: 'number', default: 0, constraint: fraction, description: 'momentum mu' },
  nesterov: { kind: 'boolean', default: false, description: 'Nesterov momentum' },
  weightDecay: {
    kind: 'number',
    default: 0,
    constraint: nonNegative,
    description: 'L2 weight decay added to the gradient',
  },
});

/** SGD / momentum / Nesterov with weight decay; momentum buffers kept by variable position. */
export class SGD extends tf.Optimizer {
  static className = 'EvaTfjsSGD';
  private learningRate: number;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  private buffers: Array<tf.Variable | null> = [];

  constructor(options: SGDOptions) {
    super();
    const { learningRate, ...rest } = options;
    const values = validateOptions('SGD', SGD_OPTIONS, rest);
    this.learningRate = checkNumber('learningRate', learningRate, positive);
    this.momentum = values.momentum;
    this.nesterov = values.nesterov;
    if (this.nesterov && this.momentum === 0) {
      throw new Error("Option 'nesterov' needs a momentum > 0");
    }
    this.weightDecay = values.weightDecay;
  }

  override getClassName(): string {
    return SGD.className;
  }

  /** Sets the learning rate used from the next step on (for schedules). */
  setLearningRate(learningRate: number): void {
    this.learningRate = checkNumber('learningRate', learningRate, positive);
  }

  /** The current learning rate. */
  getLearningRate(): number {
    return this.learningRate;
  }

  applyGradients(variableGradients: GradientInput): void {
    const entries = gradientEntries(variableGradients);
    entries.forEach(({ variable, gradient }, i) => {
      tf.tidy(() => {
        let d =
          this.weightDecay > 0 ? tf.add(gradient, tf.mul(variable, this.weightDecay)) : gradient;
        if (this.momentum > 0) {
          let buffer = this.buffers[i];
          if (buffer == null) {
            buffer = tf.variable(tf.zerosLike(variable), false);
            this.buffers[i] = buffer;
          }
          const next = tf.add(tf.mul(buffer, this.momentum), d);
          buffer.assign(next);
          d = this.nesterov ? tf.add(d, tf.mul(next, this.momentum)) : next;
        }
        variable.assign(tf.sub(variable, tf.mul(d, this.learningRate)));
      });
    });
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const slots = this.buffers.map((b, i) => {
      if (b == null) throw new Error(`SGD.getWeights: momentum buffer ${i} was never created`);
      return { name: `momentum/${i}`, tensor: b };
    });
    return [await this.saveIterations(), ...slots];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    for (const b of this.buffers) b?.dispose();
    this.buffers = rest.map((w) => tf.variable(w.tensor, false));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      momentum: this.momentum,
      nesterov: this.nesterov,
      weightDecay: this.weightDecay,
    };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(withoutCustomObjects(config) as unknown as SGDOptions);
  }

  override dispose(): void {
    for (const b of this.buffers) b?.dispose();
    this.buffers = [];
    super.dispose();
  }
}

tf.serialization.registerClass(SGD);
