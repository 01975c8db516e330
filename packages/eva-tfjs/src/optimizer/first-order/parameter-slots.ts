/**
 * The per-parameter slot variables of a first-order optimizer (momentum buffers, moments,
 * accumulators) and how they are saved and restored.
 *
 * Slots belong to their variable (by tf variable name), so the set of variables may change
 * between steps (gradual unfreezing, `minimize` with a `varList`); tfjs's own optimizers key
 * them by position and apply one variable's moments to another then. Each parameter also counts
 * its own updates (Adam's bias correction, as PyTorch's per-parameter `step`).
 *
 * tf variable names carry a process-wide counter, so saved state is keyed by a position, its
 * key: `${slot}/${key}`, and `step/${key}` for a parameter whose update count differs from the
 * optimizer's step counter (a fresh int32 scalar, like `iter`). Keys are:
 * - with a model ({@link ParameterSlotTable.useModelOrder}; every optimizer built by name, and
 *   the base of a second-order one): the variable's position among the model's variables that
 *   can train ({@link trainableCapableVariables}: `model.trainableWeights` as if no layer were
 *   frozen), whatever variables each step updates and whatever is frozen when; variables
 *   outside the model come after, in the order of their first update.
 * - without (a first-order optimizer constructed directly, or rebuilt by `tf.loadLayersModel`):
 *   the last step's variables in its order, then the others by first update, or the keys a
 *   restored state came with. A restored state is bound to the next step's variables in key
 *   order, so it resumes exactly when the run continues with the variables it was saved with.
 *
 * For ordinary runs (every variable in every step) the keys are 0, 1, ... in model order and
 * there are no `step/` entries. The state of tfjs's optimizer of the same slot names
 * (`${variable}/${slot}`, grouped by slot; e.g. `tf.train.momentum`'s `.../momentum`) is taken
 * too: by variable name when the names are the model's, else by position.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { NamedTensor } from '../gradients.js';
import { trainableCapableVariables } from '../model-variables.js';
import { checkFinite } from '../state-checks.js';

/** The slots of one parameter. */
interface ParameterSlots {
  /** The tf variable's name (null: restored, bound to a variable on its first update). */
  variable: string | null;
  /** The saved position (null: assigned when saved, without a model). */
  key: number | null;
  values: tf.Variable[];
  /** How many updates the parameter had. */
  steps: number;
}

/** A validated saved state, ready to install. */
export interface SlotPlan {
  readonly parameters: ReadonlyArray<{
    readonly key: number;
    readonly entries: readonly NamedTensor[];
    readonly steps: number;
  }>;
}

/** The saved name prefix of a parameter's update count. */
const STEP = 'step';

/** The model's variables that can train, by position. */
interface ModelOrder {
  readonly index: ReadonlyMap<string, number>;
  readonly variables: readonly tf.Variable[];
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

  /** Whether the saved state is keyed by a model's variables. */
  get keyedByModel(): boolean {
    return this.order != null;
  }

  /** Whether it holds a restored state not yet bound to variables. */
  get hasUnboundState(): boolean {
    return this.unbound().length > 0;
  }

  /**
   * Keys the saved state by the variables' positions in `model` (see the module notes). A
   * restored state not yet bound to variables must have been saved so (`savedByModel`, which
   * `tf.loadLayersModel`'s rebuild knows from the configuration): it is bound by its keys.
   */
  useModelOrder(model: tfl.LayersModel, savedByModel = false): void {
    const variables = trainableCapableVariables(model);
    const unbound = this.unbound();
    if (unbound.length > 0 && !savedByModel) {
      throw new Error(
        `${this.owner()}: it holds a restored state not yet bound to variables; give it the ` +
          'model before setWeights (build the wrapping optimizer, then restore)',
      );
    }
    for (const s of unbound) {
      const variable = variables[s.key!];
      if (
        variable != null &&
        !s.values.every((v) => tf.util.arraysEqual(v.shape, variable.shape))
      ) {
        throw new Error(
          `${this.owner()}: the restored slots of key ${s.key} have shape [${s.values[0]!.shape}], ` +
            `the model's variable ${s.key}, '${variable.name}', [${variable.shape}]`,
        );
      }
    }
    const index = new Map(variables.map((v, i) => [v.name, i]));
    this.order = { index, variables };
    for (const s of unbound) {
      const variable = variables[s.key!];
      if (variable == null) continue; // a variable outside the model: bound on its first update
      s.variable = variable.name;
      this.positions.set(variable.name, this.slots.indexOf(s));
    }
    // Slots of earlier steps take their model keys (variables outside it come after); the
    // restored ones keep theirs.
    let next = Math.max(variables.length, ...this.slots.map((s) => (s.key ?? -1) + 1));
    for (const slots of this.slots) {
      if (!unbound.includes(slots)) slots.key = index.get(slots.variable!) ?? next++;
    }
  }

  /** Restored slots without a variable yet, in key order. */
  private unbound(): ParameterSlots[] {
    return this.slots.filter((s) => s.variable == null).sort((a, b) => a.key! - b.key!);
  }

  /**
   * The restored slots the new variables of a step (neither bound nor the model's) take, in
   * key order, each with its variable; the first such step binds them.
   */
  private bindings(variables: readonly tf.Variable[]): Array<[ParameterSlots, tf.Variable]> {
    const unbound = this.unbound();
    if (unbound.length === 0) return [];
    const fresh = variables.filter(
      (v) => !this.positions.has(v.name) && !this.order?.index.has(v.name),
    );
    return fresh.slice(0, unbound.length).map((v, i) => [unbound[i]!, v]);
  }

  /**
   * Throws unless a step may update `variables` (changes nothing). Restored slots of variables
   * outside a model order are bound to the first step's new variables in key order: without a
   * model they must be as many as the step's variables; either way of the same shapes.
   */
  checkVariables(variables: readonly tf.Variable[]): void {
    const unbound = this.unbound();
    if (unbound.length === 0) return;
    const owner = this.owner();
    if (this.order == null && unbound.length !== variables.length) {
      throw new Error(
        `${owner}: the restored state has slots for ${unbound.length} parameters, ` +
          `this step updates ${variables.length}. Without a model a state is bound to the ` +
          "variables of the first step after setWeights, in the order of the save's last step; " +
          'an optimizer built by name (createOptimizerByName) saves by the model instead, and ' +
          'attachOptimizer gives it its model after tf.loadLayersModel',
      );
    }
    for (const [slots, variable] of this.bindings(variables)) {
      for (const slot of slots.values) {
        if (!tf.util.arraysEqual(slot.shape, variable.shape)) {
          throw new Error(
            `${owner}: the restored slots '${this.names()[0]}/${slots.key}' have shape ` +
              `[${slot.shape}], the variable they are bound to, '${variable.name}', ` +
              `[${variable.shape}]`,
          );
        }
      }
    }
  }

  /** Starts a step updating `variables` (checked by {@link checkVariables}). */
  beginStep(variables: readonly tf.Variable[]): void {
    for (const [slots, variable] of this.bindings(variables)) {
      slots.variable = variable.name;
      this.positions.set(variable.name, this.slots.indexOf(slots));
    }
    this.lastStep = [];
  }

  /**
   * The slots of `variable` for this step's update, created with `initial` values if it has
   * none; `steps` is the parameter's update count including this one.
   */
  update(variable: tf.Variable, initial: number): { values: tf.Variable[]; steps: number } {
    let position = this.positions.get(variable.name);
    if (position == null) {
      // (In a tidy: the filled tensor is only the variable's initial value.)
      const values = this.names().map(() =>
        tf.tidy(() => tf.variable(tf.fill(variable.shape, initial), false)),
      );
      const key = this.order == null ? null : this.keyFor(variable.name);
      position = this.slots.push({ variable: variable.name, key, values, steps: 0 }) - 1;
      this.positions.set(variable.name, position);
    }
    this.lastStep.push(position);
    const slots = this.slots[position]!;
    slots.steps += 1;
    return slots;
  }

  /** The model key of `name`, or the next key after the model's and every key in use. */
  private keyFor(name: string): number {
    const key = this.order!.index.get(name);
    if (key != null) return key;
    const used = this.slots.map((s) => s.key ?? -1);
    return Math.max(this.order!.variables.length - 1, ...used) + 1;
  }

  /** Each parameter's position in saved order with its key. */
  private saved(): Array<{ position: number; key: number }> {
    const keyed = this.slots.flatMap((s, position) =>
      s.key == null ? [] : [{ position, key: s.key }],
    );
    // Without a model: the last step's variables first, then the others by first update.
    const last = new Set(this.lastStep);
    const unkeyed = [...this.lastStep, ...[...this.slots.keys()].filter((p) => !last.has(p))]
      .filter((p) => this.slots[p]!.key == null)
      .map((position) => ({ position, key: -1 }));
    let next = Math.max(-1, ...keyed.map((k) => k.key)) + 1;
    for (const u of unkeyed) u.key = next++;
    return [...keyed, ...unkeyed].sort((a, b) => a.key - b.key);
  }

  /**
   * The saved entries: every slot, `${slot}/${key}`, then `step/${key}` (a fresh int32 scalar)
   * for each parameter whose update count is not `iterations`.
   */
  named(iterations: number): NamedTensor[] {
    const names = this.names();
    if (names.length === 0) return [];
    const saved = this.saved();
    const slots = saved.flatMap(({ position, key }) =>
      this.slots[position]!.values.map((tensor, s) => ({ name: `${names[s]}/${key}`, tensor })),
    );
    const steps = saved.flatMap(({ position, key }) => {
      const { steps } = this.slots[position]!;
      return steps === iterations
        ? []
        : [{ name: `${STEP}/${key}`, tensor: tf.scalar(steps, 'int32') }];
    });
    return [...slots, ...steps];
  }

  /**
   * Checks saved entries (everything after the step counter): slot names per parameter, keys
   * increasing, shapes (of the model's variables, or of the slots held now), the update counts
   * and finite values; changes nothing.
   */
  async plan(all: readonly NamedTensor[], iterations: number): Promise<SlotPlan> {
    const owner = `${this.owner()}.setWeights`;
    const names = this.names();
    const per = names.length;
    const stepsAt = all.findIndex((w) => w.name.startsWith(`${STEP}/`));
    const slotEntries = this.fromTfjsLayout(stepsAt < 0 ? [...all] : all.slice(0, stepsAt));
    if (per === 0 ? slotEntries.length !== 0 : slotEntries.length % per !== 0) {
      throw new Error(
        `${owner}: expected ${per} slot(s) per parameter, got ${slotEntries.length} slot tensors`,
      );
    }
    const count = per === 0 ? 0 : slotEntries.length / per;
    const held = this.order == null ? this.saved() : [];
    if (held.length > 0 && count !== held.length) {
      throw new Error(`${owner}: expected ${held.length * per} slots, got ${count * per}`);
    }
    const parameters: Array<{ key: number; entries: NamedTensor[]; steps: number }> = [];
    for (let i = 0; i < count; i++) {
      const entries = slotEntries.slice(i * per, i * per + per);
      const key = Number(/\/(\d+)$/.exec(entries[0]!.name)?.[1] ?? NaN);
      // Into slots held now (no model): the keys they have.
      const valid =
        key > (parameters.at(-1)?.key ?? -1) && (held.length === 0 || key === held[i]!.key);
      entries.forEach(({ name, tensor }, s) => {
        if (!valid || name !== `${names[s]}/${key}`) {
          throw new Error(
            `${owner}: entry '${name}' must be '${names[s]}/<key>' with the keys of the ` +
              `parameters increasing${held.length > 0 ? ` (here ${held.map((h) => h.key)})` : ''}`,
          );
        }
        const want =
          this.order != null
            ? this.order.variables[key]?.shape
            : this.slots[held[i]?.position ?? -1]?.values[s]?.shape;
        if (want != null && !tf.util.arraysEqual([...want], tensor.shape)) {
          throw new Error(`${owner}: '${name}' must have shape [${want}], got [${tensor.shape}]`);
        }
      });
      parameters.push({ key, entries, steps: iterations });
    }
    const byKey = new Map(parameters.map((p) => [p.key, p]));
    const counted = new Set<number>();
    for (const { name, tensor } of stepsAt < 0 ? [] : all.slice(stepsAt)) {
      const key = Number(new RegExp(`^${STEP}/(\\d+)$`).exec(name)?.[1] ?? NaN);
      const parameter = byKey.get(key);
      if (parameter == null || counted.has(key)) {
        throw new Error(
          `${owner}: unexpected entry '${name}' (after the slots come only ` +
            `'${STEP}/<key>' entries, once for a parameter with slots)`,
        );
      }
      const value = tensor.size === 1 ? (await tensor.data())[0]! : NaN;
      if (tensor.rank !== 0 || !Number.isInteger(value) || value < 1 || value > iterations) {
        throw new Error(
          `${owner}: '${name}' must be an integer scalar in [1, ${iterations}] (the ` +
            "parameter's number of updates)",
        );
      }
      counted.add(key);
      parameter.steps = value;
    }
    await checkFinite(this.owner(), slotEntries);
    return { parameters };
  }

  /**
   * Slot entries in tfjs's layout (`${variable}/${slot}`, all of one slot, then the next)
   * renamed to this table's (`${slot}/${key}`, per parameter): keyed by the model's variable
   * names when they all are, else by position; others as they are. tfjs's momentum optimizer
   * at momentum 0 keeps the last gradient, which no later step reads: for an SGD without
   * momentum those entries are dropped.
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
    // The variable names, per parameter, must agree across the slots.
    const variables = bySlot[0]!.map((w) => w.name.slice(0, -names[0]!.length - 1));
    const aligned = bySlot.every((g, s) =>
      g.every((w, i) => w.name === `${variables[i]}/${names[s]}`),
    );
    const modelKeys = variables.map((v) => this.order?.index.get(v));
    const byName = aligned && modelKeys.every((k) => k != null);
    const keys = byName ? modelKeys.map((k) => k!) : variables.map((_, i) => i);
    return keys
      .map((key, i) => ({ key, i }))
      .sort((a, b) => a.key - b.key)
      .flatMap(({ key, i }) =>
        names.map((slot, s) => ({ name: `${slot}/${key}`, tensor: bySlot[s]![i]!.tensor })),
      );
  }

  /** Installs copies of a {@link plan}'s entries (taken before anything is released). */
  restore(plan: SlotPlan): void {
    const held = this.order == null ? this.saved() : [];
    const next: ParameterSlots[] = plan.parameters.map(({ key, entries, steps }, i) => ({
      variable:
        this.order != null
          ? (this.order.variables[key]?.name ?? null)
          : // Restoring into the same instance keeps the binding (the shapes were checked).
            (this.slots[held[i]?.position ?? -1]?.variable ?? null),
      key,
      values: entries.map((w) => tf.tidy(() => tf.variable(tf.clone(w.tensor), false))),
      steps,
    }));
    this.dispose();
    this.slots = next;
    next.forEach((p, i) => {
      if (p.variable != null) this.positions.set(p.variable, i);
    });
  }

  /** Releases every slot. */
  dispose(): void {
    for (const { values } of this.slots) for (const v of values) v.dispose();
    this.slots = [];
    this.positions = new Map();
    this.lastStep = [];
  }
}
