/**
 * The per-parameter slot variables of a first-order optimizer (momentum buffers, moments,
 * accumulators) and how they are saved and restored.
 *
 * Slots belong to their variable (by tf variable name), so the set of variables may change
 * between steps (gradual unfreezing, `minimize` with a `varList`); tfjs's own optimizers key
 * them by position and apply one variable's moments to another then. tf variable names carry a
 * process-wide counter, so saved state is keyed by position:
 * - with a model ({@link ParameterSlotTable.useModelOrder}; every optimizer built by name or
 *   wrapped by a second-order one): the position of the variable in the model's weights
 *   (trainable first, in `model.trainableWeights` order), `${slot}/${index}`. Exact whatever
 *   the variables of each step, and checked against the model's shapes when restored.
 * - without: positions in the order of the last step's variables, then any others by first
 *   update; a restored state is bound to the next step's variables in that order, so a run
 *   resumes exactly when it continues with the variables of the step before the save.
 *
 * Each parameter also counts its own steps (Adam's bias correction, as PyTorch's per-parameter
 * `step`): one first updated at step k > 0 saves k as `firstStep/${key}`. The state of tfjs's
 * optimizer of the same slot names (`${variable}/${slot}`, grouped by slot, by position) is
 * taken as well.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { NamedTensor } from '../gradients.js';
import { checkFinite } from '../state-checks.js';

/** The slots of one parameter. */
interface ParameterSlots {
  /** The tf variable's name (null: restored by position, bound on the next step). */
  variable: string | null;
  values: tf.Variable[];
  /** The optimizer's step count before the parameter's first update. */
  firstStep: number;
}

/** A validated saved state, ready to install. */
export interface SlotPlan {
  readonly parameters: ReadonlyArray<{
    readonly key: number;
    readonly entries: readonly NamedTensor[];
    readonly firstStep: number;
  }>;
}

/** The saved name of a parameter's first step. */
const FIRST_STEP = 'firstStep';

/** The model's variables by position: trainable, then the others (frozen at the time). */
interface ModelOrder {
  readonly index: ReadonlyMap<string, number>;
  readonly names: readonly string[];
  readonly shapes: ReadonlyArray<readonly number[]>;
}

/** Slot variables per parameter, their saved names and their restoration. */
export class ParameterSlotTable {
  private slots: ParameterSlots[] = [];
  /** Positions in {@link slots} by tf variable name. */
  private positions = new Map<string, number>();
  /** The positions the last step updated, in its order. */
  private lastStep: number[] = [];
  private order: ModelOrder | null = null;

  /**
   * @param owner the optimizer's name (messages)
   * @param names the slot names per parameter (read when used: they may depend on options)
   */
  constructor(
    private readonly owner: () => string,
    private readonly names: () => readonly string[],
  ) {}

  /**
   * Keys the saved state by the variables' positions in `model` (trainable weights first, then
   * the non-trainable ones), so it restores exactly whatever the variables of each step.
   */
  useModelOrder(model: tfl.LayersModel): void {
    const weights = [...model.trainableWeights, ...model.nonTrainableWeights];
    const variables = weights.map((w) => w.read() as tf.Variable);
    this.order = {
      index: new Map(variables.map((v, i) => [v.name, i])),
      names: variables.map((v) => v.name),
      shapes: variables.map((v) => v.shape),
    };
    for (const slots of this.slots) {
      if (slots.variable != null && !this.order.index.has(slots.variable)) {
        throw new Error(`${this.owner()}: it updated '${slots.variable}', not a model variable`);
      }
    }
  }

  /** Whether the slots were restored by position and not yet bound to variables. */
  private get restored(): boolean {
    return this.slots.length > 0 && this.slots[0]!.variable == null;
  }

  /**
   * Throws unless a step may update `variables` (changes nothing): with a model order they must
   * be the model's; restored slots without one are bound to the first step's variables in
   * order, so they must be as many, of the same shapes.
   */
  checkVariables(variables: readonly tf.Variable[]): void {
    const owner = this.owner();
    if (this.order != null) {
      const foreign = variables.find((v) => !this.order!.index.has(v.name));
      if (foreign != null) {
        throw new Error(
          `${owner}: '${foreign.name}' is not a variable of the model this optimizer was built ` +
            'for (its state is saved by position in that model); for variables outside a model ' +
            'construct the optimizer directly (new SGD(...), new Adam(...)), which saves by the ' +
            "order of the steps' variables",
        );
      }
      return;
    }
    if (!this.restored) return;
    if (this.slots.length !== variables.length) {
      throw new Error(
        `${owner}: the restored state has slots for ${this.slots.length} parameters, ` +
          `this step updates ${variables.length} (a state is bound to the variables of the ` +
          'first step after setWeights, in order)',
      );
    }
    this.slots.forEach(({ values }, i) => {
      for (const slot of values) {
        if (!tf.util.arraysEqual(slot.shape, variables[i]!.shape)) {
          throw new Error(
            `${owner}: the restored slot of parameter ${i} has shape [${slot.shape}], ` +
              `its variable '${variables[i]!.name}' [${variables[i]!.shape}]`,
          );
        }
      }
    });
  }

  /** Starts a step updating `variables` (checked by {@link checkVariables}). */
  beginStep(variables: readonly tf.Variable[]): void {
    if (this.restored) {
      this.slots.forEach((slots, i) => {
        slots.variable = variables[i]!.name;
        this.positions.set(variables[i]!.name, i);
      });
    }
    this.lastStep = [];
  }

  /**
   * The slots of `variable` in this step, created with `initial` values if it has none;
   * `firstStep` is the optimizer's step count before this step.
   */
  slotsFor(
    variable: tf.Variable,
    firstStep: number,
    initial: number,
  ): { values: tf.Variable[]; firstStep: number } {
    let position = this.positions.get(variable.name);
    if (position == null) {
      // (In a tidy: the filled tensor is only the variable's initial value.)
      const values = this.names().map(() =>
        tf.tidy(() => tf.variable(tf.fill(variable.shape, initial), false)),
      );
      position = this.slots.push({ variable: variable.name, values, firstStep }) - 1;
      this.positions.set(variable.name, position);
    }
    this.lastStep.push(position);
    return this.slots[position]!;
  }

  /** Each parameter's position in saved order with its saved key. */
  private saved(): Array<{ position: number; key: number }> {
    if (this.order != null) {
      return this.slots
        .map((s, position) => ({ position, key: this.order!.index.get(s.variable!)! }))
        .sort((a, b) => a.key - b.key);
    }
    const last = new Set(this.lastStep);
    const others = [...this.slots.keys()].filter((p) => !last.has(p));
    return [...this.lastStep, ...others].map((position, key) => ({ position, key }));
  }

  /** The saved entries: every slot, `${slot}/${key}`, then the first steps after 0. */
  named(): NamedTensor[] {
    const names = this.names();
    if (names.length === 0) return [];
    const saved = this.saved();
    const slots = saved.flatMap(({ position, key }) =>
      this.slots[position]!.values.map((tensor, s) => ({ name: `${names[s]}/${key}`, tensor })),
    );
    const firstSteps = saved.flatMap(({ position, key }) => {
      const { firstStep } = this.slots[position]!;
      return firstStep > 0
        ? [{ name: `${FIRST_STEP}/${key}`, tensor: tf.scalar(firstStep, 'int32') }]
        : [];
    });
    return [...slots, ...firstSteps];
  }

  /**
   * Checks saved entries (everything after the step counter) against the slot names, the keys
   * (model positions, or positions 0, 1, ...), the shapes (of the model's variables, or of the
   * slots held now) and finiteness; changes nothing.
   */
  async plan(all: readonly NamedTensor[], iterations: number): Promise<SlotPlan> {
    const owner = `${this.owner()}.setWeights`;
    const names = this.names();
    const per = names.length;
    const firstAt = all.findIndex((w) => w.name.startsWith(`${FIRST_STEP}/`));
    const slotEntries = this.fromTfjsLayout(firstAt < 0 ? [...all] : all.slice(0, firstAt));
    if (per === 0 ? slotEntries.length !== 0 : slotEntries.length % per !== 0) {
      throw new Error(`${owner}: expected ${per} slot(s) per parameter, got ${all.length} tensors`);
    }
    const count = per === 0 ? 0 : slotEntries.length / per;
    const held = this.order == null ? this.saved() : [];
    const parameters: Array<{ key: number; entries: NamedTensor[]; firstStep: number }> = [];
    for (let i = 0; i < count; i++) {
      const entries = slotEntries.slice(i * per, i * per + per);
      const key = Number(/\/(\d+)$/.exec(entries[0]!.name)?.[1] ?? NaN);
      const previous = parameters.at(-1)?.key ?? -1;
      const valid =
        this.order == null ? key === i : key > previous && key < this.order.names.length;
      entries.forEach(({ name, tensor }, s) => {
        const expected = `${names[s]}/${valid ? key : this.order == null ? i : '<index>'}`;
        if (!valid || name !== expected) {
          throw new Error(
            `${owner}: entry '${name}' must be '${expected}'` +
              (this.order == null
                ? ''
                : ` (parameters by increasing position among the model's ` +
                  `${this.order.names.length} variables)`),
          );
        }
        const want =
          this.order != null
            ? this.order.shapes[key]
            : this.slots[held[i]?.position ?? -1]?.values[s]?.shape;
        if (want != null && !tf.util.arraysEqual([...want], tensor.shape)) {
          throw new Error(`${owner}: '${name}' must have shape [${want}], got [${tensor.shape}]`);
        }
      });
      parameters.push({ key, entries, firstStep: 0 });
    }
    if (this.order == null && this.slots.length > 0 && per > 0 && count !== this.slots.length) {
      throw new Error(`${owner}: expected ${this.slots.length * per} slots, got ${count * per}`);
    }
    const byKey = new Map(parameters.map((p) => [p.key, p]));
    for (const { name, tensor } of firstAt < 0 ? [] : all.slice(firstAt)) {
      const key = Number(new RegExp(`^${FIRST_STEP}/(\\d+)$`).exec(name)?.[1] ?? NaN);
      const parameter = byKey.get(key);
      if (parameter == null || parameter.firstStep !== 0) {
        throw new Error(
          `${owner}: unexpected entry '${name}' (after the slots come only ` +
            `'${FIRST_STEP}/<key>' entries, once for a parameter with slots)`,
        );
      }
      const value = tensor.size === 1 ? (await tensor.data())[0]! : NaN;
      if (tensor.rank !== 0 || !Number.isInteger(value) || value < 1 || value > iterations) {
        throw new Error(
          `${owner}: '${name}' must be an integer scalar in [1, ${iterations}] ` +
            '(the step before which the parameter was first updated)',
        );
      }
      parameter.firstStep = value;
    }
    await checkFinite(this.owner(), slotEntries);
    return { parameters };
  }

  /**
   * Slot entries in tfjs's layout (`${variable}/${slot}`, all of one slot, then the next)
   * renamed to this table's (`${slot}/${position}`, per parameter); others as they are.
   * tfjs's momentum optimizer at momentum 0 keeps the last gradient, which no later step reads:
   * for an SGD without momentum those entries are dropped.
   */
  private fromTfjsLayout(entries: NamedTensor[]): NamedTensor[] {
    const names = this.names();
    const ours = new RegExp(`^(${names.join('|')})/\\d+$`);
    if (entries.length === 0 || entries.some((w) => ours.test(w.name))) return entries;
    if (names.length === 0) {
      return entries.every((w) => w.name.endsWith('/momentum')) ? [] : entries;
    }
    const bySlot = names.map((slot) => entries.filter((w) => w.name.endsWith(`/${slot}`)));
    const n = bySlot[0]!.length;
    const grouped = bySlot.flat();
    const inTfjsOrder = grouped.every((w, k) => w === entries[k]);
    if (!inTfjsOrder || grouped.length !== entries.length || bySlot.some((g) => g.length !== n)) {
      return entries;
    }
    return Array.from({ length: n }, (_, i) =>
      names.map((slot, s) => ({ name: `${slot}/${i}`, tensor: bySlot[s]![i]!.tensor })),
    ).flat();
  }

  /** Installs copies of a {@link plan}'s entries (taken before anything is released). */
  restore(plan: SlotPlan): void {
    const saved = this.saved();
    const next: ParameterSlots[] = plan.parameters.map(({ key, entries, firstStep }, i) => ({
      variable:
        this.order != null
          ? this.order.names[key]!
          : // Restoring into the same instance keeps the binding (the shapes were checked).
            (this.slots[saved[i]?.position ?? -1]?.variable ?? null),
      values: entries.map((w) => tf.tidy(() => tf.variable(tf.clone(w.tensor), false))),
      firstStep,
    }));
    const lastStep = this.order == null ? this.lastStep.map((_, i) => i) : [];
    this.dispose();
    this.slots = next;
    next.forEach((p, i) => {
      if (p.variable != null) this.positions.set(p.variable, i);
    });
    this.lastStep = lastStep;
  }

  /** Releases every slot. */
  dispose(): void {
    for (const { values } of this.slots) for (const v of values) v.dispose();
    this.slots = [];
    this.positions = new Map();
    this.lastStep = [];
  }
}
