/**
 * What the first-order optimizers (SGD, Adagrad, Adam, AdamW) share: the learning rate (for
 * schedules), declared options (validated at construction, saved by `getConfig`), per-parameter
 * slot variables that follow their variable ({@link ParameterSlotTable}), the non-finite policy,
 * and a state round-trip that validates everything before it changes anything.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { gradientEntries, type GradientInput, type NamedTensor } from '../gradients.js';
import { NonFiniteGuard } from '../non-finite.js';
import {
  checkLearningRate,
  checkNumber,
  nonNegative,
  validateOptions,
  type NonFinitePolicy,
  type OptionSpecs,
  type OptionValues,
} from '../options.js';
import { withoutCustomObjects } from '../serialization.js';
import { checkIterations, checkStateInput } from '../state-checks.js';
import { ParameterSlotTable, type SlotPlan } from './parameter-slots.js';

type S0 = OptionSpecs;

/** Base class of the first-order optimizers. */
export abstract class SlotOptimizer<S extends OptionSpecs> extends tf.Optimizer {
  protected learningRate: number;
  /** The validated options. */
  protected readonly values: OptionValues<S>;
  private readonly slots = new ParameterSlotTable(
    () => this.getClassName(),
    () => this.names,
  );
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
    const { modelOrder, ...options } = withoutCustomObjects(config);
    const optimizer = new cls(options);
    // Its saved state, restored next, is keyed by model positions: `useModelOrder` binds it.
    if (modelOrder === true) (optimizer as unknown as SlotOptimizer<S0>).savedByModel = true;
    return optimizer;
  }

  /** Whether the state it is given was saved by model positions (see {@link fromConfig}). */
  private savedByModel = false;

  private get names(): readonly string[] {
    return typeof this.slotNames === 'function' ? this.slotNames(this.values) : this.slotNames;
  }

  /** Steps skipped because of non-finite gradients. */
  get skippedSteps(): number {
    return this.guard.skippedSteps;
  }

  /**
   * Sets the learning rate used from the next step on (for schedules; 0, which a schedule may
   * reach, leaves the weights as they are).
   */
  setLearningRate(learningRate: number): void {
    this.learningRate = checkNumber('learningRate', learningRate, nonNegative);
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
   * tidy. `step` is the 1-based count of this parameter's updates (as PyTorch's per-parameter
   * `step`): the optimizer's `iterations` unless the parameter missed steps.
   */
  protected abstract update(
    variable: tf.Variable,
    gradient: tf.Tensor,
    slots: tf.Variable[],
    step: number,
  ): void;

  private assertUsable(): void {
    if (this.disposed) throw new Error(`${this.getClassName()} has been disposed`);
  }

  applyGradients(variableGradients: GradientInput): void {
    this.step(variableGradients, true);
  }

  /**
   * {@link applyGradients} without the non-finite check and {@link checkVariables}, for callers
   * that made them (a wrapping optimizer checks gradients and statistics once per step, and the
   * variables before its step changes any state).
   */
  applyCheckedGradients(variableGradients: GradientInput): void {
    this.step(variableGradients, false);
  }

  private step(variableGradients: GradientInput, check: boolean): void {
    this.assertUsable();
    const entries = gradientEntries(variableGradients);
    const variables = entries.map((e) => e.variable);
    if (check) this.slots.checkVariables(variables);
    if (
      check &&
      !this.guard.admit(
        this.iterations,
        entries.map((e) => e.gradient),
      )
    )
      return;
    this.slots.beginStep(variables);
    this.incrementIterations();
    const initial = this.initialSlotValue();
    for (const { variable, gradient } of entries) {
      const { values, steps } = this.slots.update(variable, initial);
      tf.tidy(() => this.update(variable, gradient, values, steps));
    }
  }

  /**
   * Throws unless a step may update `variables`; changes nothing. (Wrapping optimizers call it
   * before their step changes any state.)
   */
  checkVariables(variables: readonly tf.Variable[]): void {
    this.slots.checkVariables(variables);
  }

  /**
   * Saves the state by the variables' positions among `model`'s variables that can train (as
   * if no layer were frozen), so a saved state restores exactly whatever variables each step
   * updates and whatever is frozen when, and checks a restored state against the model's
   * shapes. Optimizers built by name, and bases of the second-order optimizers, use their
   * model's. Call it before `setWeights`.
   */
  useModelOrder(model: tfl.LayersModel): void {
    this.slots.useModelOrder(model, this.savedByModel);
  }

  /**
   * Whether {@link useModelOrder} can take `model` now: not while it holds a restored state
   * saved without a model and not yet bound to variables.
   */
  canUseModelOrder(): boolean {
    return this.savedByModel || !this.slots.hasUnboundState;
  }

  /**
   * The step counter, then every slot named `${slot}/${key}` (the key is the parameter's
   * position: see {@link useModelOrder}), then `step/${key}` for each parameter whose number
   * of updates differs from the step counter. The counters (`iter`, `step/...`) are fresh
   * tensors the caller disposes (`disposeIterationCounters`); the slots are live state.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    this.assertUsable();
    return [await this.saveIterations(), ...this.slots.named(this.iterations)];
  }

  /**
   * Restores what {@link getWeights} produced, validated first (names, shapes, finite values;
   * a rejected state changes nothing), from copies. Also takes the state of tfjs's optimizer of
   * the same slot names (e.g. `tf.train.momentum`'s `${variable}/momentum` for {@link SGD}).
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const { iterations, plan } = await this.plan(weightValues);
    this.slots.restore(plan);
    this.iterations_ = iterations;
  }

  /**
   * Throws (naming the entry) unless {@link setWeights} would accept `weightValues`; changes
   * nothing. (Wrapping optimizers validate their base's state before they change anything.)
   */
  async validateWeights(weightValues: NamedTensor[]): Promise<void> {
    await this.plan(weightValues);
  }

  private async plan(weightValues: NamedTensor[]): Promise<{ iterations: number; plan: SlotPlan }> {
    this.assertUsable();
    const owner = this.getClassName();
    const [first, ...rest] = checkStateInput(owner, weightValues);
    const iterations = await checkIterations(owner, first);
    return { iterations, plan: await this.slots.plan(rest, iterations) };
  }

  /** The learning rate and the declared options. */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      ...(this.values as unknown as tf.serialization.ConfigDict),
      // Restored by `tf.loadLayersModel`, it keys the state by the model once given it.
      ...(this.slots.keyedByModel ? { modelOrder: true } : {}),
    };
  }

  override dispose(): void {
    this.disposed = true;
    this.slots.dispose();
    super.dispose();
  }
}

/**
 * Whether `optimizer` is one of the library's first-order optimizers (by its prototype chain:
 * `instanceof` on tfjs optimizer classes is duck-typed and true for any optimizer).
 */
export function isSlotOptimizer(optimizer: tf.Optimizer): optimizer is SlotOptimizer<OptionSpecs> {
  return Object.prototype.isPrototypeOf.call(SlotOptimizer.prototype, optimizer);
}
