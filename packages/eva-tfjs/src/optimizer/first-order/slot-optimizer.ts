/**
 * What the first-order optimizers (SGD, Adagrad, Adam, AdamW) share: the learning rate (for
 * schedules), declared options (validated at construction, saved by `getConfig`), per-parameter
 * slot variables by position as tfjs's optimizers keep them, the non-finite policy, and a state
 * round-trip that validates everything before it changes anything.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gradientEntries, type GradientInput, type NamedTensor } from '../gradients.js';
import { NonFiniteGuard } from '../non-finite.js';
import {
  checkLearningRate,
  checkNumber,
  positive,
  validateOptions,
  type NonFinitePolicy,
  type OptionSpecs,
  type OptionValues,
} from '../options.js';
import { withoutCustomObjects } from '../serialization.js';
import { checkFinite, checkIterations, checkStateInput } from '../state-checks.js';

/** Base class of the first-order optimizers. */
export abstract class SlotOptimizer<S extends OptionSpecs> extends tf.Optimizer {
  protected learningRate: number;
  /** The validated options. */
  protected readonly values: OptionValues<S>;
  private slots: tf.Variable[][] = [];
  /** Set by `setWeights` before the first step: slot shapes are checked against the variables. */
  private unchecked = false;
  private readonly guard: NonFiniteGuard;
  private disposed = false;

  protected constructor(
    owner: string,
    specs: S,
    options: { learningRate: number } & Record<string, unknown>,
    /** The slot names per parameter (none: no state). */
    private readonly slotNames: readonly string[] | ((values: OptionValues<S>) => string[]),
  ) {
    super();
    const { learningRate, ...rest } = options;
    this.values = validateOptions(owner, specs, rest);
    this.learningRate = checkLearningRate(owner, learningRate);
    this.guard = new NonFiniteGuard(owner, (this.values.onNonFinite as NonFinitePolicy) ?? 'skip');
  }

  /** Builds the optimizer from its saved configuration (what tfjs passes when loading). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(withoutCustomObjects(config));
  }

  private get names(): readonly string[] {
    return typeof this.slotNames === 'function' ? this.slotNames(this.values) : this.slotNames;
  }

  /** Steps skipped because of non-finite gradients. */
  get skippedSteps(): number {
    return this.guard.skippedSteps;
  }

  /** Sets the learning rate used from the next step on (for schedules). */
  setLearningRate(learningRate: number): void {
    this.learningRate = checkNumber('learningRate', learningRate, positive);
  }

  /** The current learning rate. */
  getLearningRate(): number {
    return this.learningRate;
  }

  /** Initial slot value. */
  protected initialSlotValue(): number {
    return 0;
  }

  /**
   * One update of `variable` from `gradient` with its slots (in slot-name order); runs inside a
   * tidy, after the step counter was incremented (so `iterations` is the 1-based step).
   */
  protected abstract update(variable: tf.Variable, gradient: tf.Tensor, slots: tf.Variable[]): void;

  private assertUsable(): void {
    if (this.disposed) throw new Error(`${this.getClassName()} has been disposed`);
  }

  applyGradients(variableGradients: GradientInput): void {
    this.assertUsable();
    const entries = gradientEntries(variableGradients);
    if (this.unchecked) this.checkLoadedSlots(entries.map((e) => e.variable));
    if (
      !this.guard.admit(
        this.iterations,
        entries.map((e) => e.gradient),
      )
    )
      return;
    this.incrementIterations();
    const names = this.names;
    entries.forEach(({ variable, gradient }, i) => {
      let slots = this.slots[i];
      if (slots == null) {
        // (In a tidy: the filled tensor is only the variable's initial value.)
        slots = names.map(() =>
          tf.tidy(() => tf.variable(tf.fill(variable.shape, this.initialSlotValue()), false)),
        );
        this.slots[i] = slots;
      }
      tf.tidy(() => this.update(variable, gradient, slots));
    });
  }

  private checkLoadedSlots(variables: tf.Variable[]): void {
    const owner = this.getClassName();
    if (this.slots.length !== variables.length) {
      throw new Error(
        `${owner}: the restored state has slots for ${this.slots.length} parameters, ` +
          `this step updates ${variables.length}`,
      );
    }
    this.slots.forEach((slots, i) => {
      for (const slot of slots) {
        if (!tf.util.arraysEqual(slot.shape, variables[i]!.shape)) {
          throw new Error(
            `${owner}: the restored slot of parameter ${i} has shape [${slot.shape}], ` +
              `its variable [${variables[i]!.shape}]`,
          );
        }
      }
    });
    this.unchecked = false;
  }

  /** The step counter and every slot, named `${slot}/${parameter}`. */
  override async getWeights(): Promise<NamedTensor[]> {
    this.assertUsable();
    const names = this.names;
    const named = this.slots.flatMap((slots, i) =>
      slots.map((tensor, s) => ({ name: `${names[s]}/${i}`, tensor })),
    );
    return [await this.saveIterations(), ...named];
  }

  /**
   * Restores what {@link getWeights} produced: the step counter, then the slots in order with
   * their names, the shapes of the current slots (or, before the first step, shapes checked
   * against the variables on the next step), finite values. Copies are taken before anything is
   * released.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.assertUsable();
    const owner = this.getClassName();
    const [first, ...rest] = checkStateInput(owner, weightValues);
    const iterations = await checkIterations(owner, first);
    const names = this.names;
    const per = names.length;
    if (per === 0 ? rest.length !== 0 : rest.length % per !== 0) {
      throw new Error(
        `${owner}.setWeights: expected ${per} slot(s) per parameter, got ${rest.length} tensors`,
      );
    }
    rest.forEach(({ name, tensor }, k) => {
      const expected = `${names[k % per]}/${Math.floor(k / per)}`;
      if (name !== expected) {
        throw new Error(`${owner}.setWeights: entry ${k + 1} must be '${expected}', got '${name}'`);
      }
      const current = this.slots[Math.floor(k / per)]?.[k % per];
      if (current != null && !tf.util.arraysEqual(current.shape, tensor.shape)) {
        throw new Error(
          `${owner}.setWeights: '${name}' must have shape [${current.shape}], got [${tensor.shape}]`,
        );
      }
    });
    if (this.slots.length > 0 && rest.length !== this.slots.length * per) {
      throw new Error(
        `${owner}.setWeights: expected ${this.slots.length * per} slots, got ${rest.length}`,
      );
    }
    await checkFinite(owner, rest);
    const next: tf.Variable[][] = [];
    for (let i = 0; i < rest.length; i += per) {
      next.push(
        rest.slice(i, i + per).map((w) => tf.tidy(() => tf.variable(tf.clone(w.tensor), false))),
      );
    }
    this.disposeSlots();
    this.slots = next;
    this.unchecked = next.length > 0;
    this.iterations_ = iterations;
  }

  /** The learning rate and the declared options. */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      ...(this.values as unknown as tf.serialization.ConfigDict),
    };
  }

  private disposeSlots(): void {
    for (const slots of this.slots) for (const v of slots) v.dispose();
    this.slots = [];
  }

  override dispose(): void {
    this.disposed = true;
    this.disposeSlots();
    super.dispose();
  }
}
