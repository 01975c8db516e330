/**
 * Per-layer or per-parameter state tensors of an optimizer (running vectors, factors, inverses,
 * Shampoo statistics), kept under stable names `${prefix}/${index}/${slot}` for
 * `getWeights`/`setWeights`. Owns its tensors: replacing a value disposes the old one; restoring
 * validates every entry before it changes anything.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CapturedLayer } from '../capture/model-capture.js';
import type { AlgorithmState } from './algorithm.js';
import type { BackgroundWork } from './deferred-matrix-functions.js';
import type { NamedTensor } from './gradients.js';

/** What state is kept for: a captured layer or a model variable (stable index, readable path). */
export interface SlotOwner {
  readonly index: number;
  readonly path: string;
}

/** The expected shape of each slot for an owner (null: the slot does not exist for it). */
export type SlotShapes<K extends SlotOwner = CapturedLayer> = Record<
  string,
  (owner: K) => readonly number[] | null
>;

/** Named per-layer (or per-variable) tensors. */
export class StateSlots<K extends SlotOwner = CapturedLayer> implements AlgorithmState {
  private readonly values = new Map<string, Array<tf.Tensor | null>>();
  private background: BackgroundWork | null = null;
  private readonly groups: ReadonlyArray<readonly string[]>;

  /**
   * @param owner the algorithm's name (messages)
   * @param prefix the state names' prefix
   * @param layers the owners of state (layers or variables)
   * @param shapes every slot's shape per owner
   * @param groups slots that are set together, in the order they come to exist (e.g. K-FAC's
   *   two factors, then their two inverses): a saved state holds, per owner, every slot of a
   *   group or none of it, and a group only with the groups listed before it. Default: all
   *   slots form one group. Slots listed in no group form a group of their own each.
   */
  constructor(
    private readonly owner: string,
    private readonly prefix: string,
    private readonly layers: readonly K[],
    private readonly shapes: SlotShapes<K>,
    groups?: ReadonlyArray<readonly string[]>,
  ) {
    for (const slot of Object.keys(shapes))
      this.values.set(
        slot,
        layers.map(() => null),
      );
    const listed = groups ?? [Object.keys(shapes)];
    for (const slot of listed.flat()) {
      if (!(slot in shapes)) throw new Error(`${owner}: state group names unknown slot '${slot}'`);
    }
    const grouped = new Set(listed.flat());
    this.groups = [
      ...listed,
      ...Object.keys(shapes)
        .filter((slot) => !grouped.has(slot))
        .map((slot) => [slot]),
    ];
  }

  private slot(name: string): Array<tf.Tensor | null> {
    const values = this.values.get(name);
    if (values == null) throw new Error(`${this.owner}: no state slot '${name}'`);
    return values;
  }

  /** The value of `slot` for `layer`, or null before it was set. */
  get(slot: string, layer: K): tf.Tensor | null {
    return this.slot(slot)[this.position(layer)] ?? null;
  }

  /**
   * Attaches work whose results are slots (e.g. {@link DeferredMatrixFunctions}): it is settled
   * before the state is saved, its results in flight are dropped when a state is loaded, and it
   * stops on dispose.
   */
  attach(background: BackgroundWork): void {
    this.background = background;
  }

  /** Finishes the attached background work, so {@link named} is complete. */
  settle(): void {
    this.background?.settle();
  }

  /** Takes ownership of `value` (kept) and disposes the previous one. */
  set(slot: string, layer: K, value: tf.Tensor): void {
    const values = this.slot(slot);
    const previous = values[this.position(layer)];
    values[this.position(layer)] = tf.keep(value);
    if (previous != null && previous !== value) previous.dispose();
  }

  /**
   * Running average `m = (1 - decay) m + decay * next` (first value taken as is); `next` stays
   * the caller's.
   */
  average(slot: string, layer: K, next: tf.Tensor, decay: number): void {
    const previous = this.get(slot, layer);
    this.set(
      slot,
      layer,
      previous == null
        ? tf.clone(next)
        : tf.tidy(() => tf.add(tf.mul(previous, 1 - decay), tf.mul(next, decay))),
    );
  }

  private position(owner: K): number {
    const position = this.layers.indexOf(owner);
    if (position < 0) throw new Error(`${this.owner}: '${owner.path}' has no state here`);
    return position;
  }

  /**
   * Accumulates `next` like Shampoo's statistics from a zero start: a running sum when
   * `beta2 = 1`, else `m = beta2 m + (1 - beta2) next`; `next` stays the caller's.
   */
  accumulate(slot: string, layer: K, next: tf.Tensor, beta2: number): void {
    const previous = this.get(slot, layer);
    this.set(
      slot,
      layer,
      tf.tidy(() => {
        const added = beta2 === 1 ? next : tf.mul(next, 1 - beta2);
        if (previous == null) return tf.clone(added);
        return tf.add(beta2 === 1 ? previous : tf.mul(previous, beta2), added);
      }),
    );
  }

  /** Every set value, named. */
  named(): NamedTensor[] {
    const named: NamedTensor[] = [];
    for (const layer of this.layers) {
      for (const [slot, values] of this.values) {
        const tensor = values[this.position(layer)];
        if (tensor != null) named.push({ name: `${this.prefix}/${layer.index}/${slot}`, tensor });
      }
    }
    return named;
  }

  /**
   * Checks `state` against the slots' names and shapes (entries of other prefixes are errors)
   * and returns where each entry goes; changes nothing.
   */
  private plan(state: Map<string, tf.Tensor>): Array<[string, K, tf.Tensor]> {
    const pattern = new RegExp(`^${this.prefix}/(\\d+)/(\\w+)$`);
    const updates: Array<[string, K, tf.Tensor]> = [];
    for (const [name, tensor] of state) {
      const match = pattern.exec(name);
      const layer = match ? this.layers.find((l) => l.index === Number(match[1])) : undefined;
      const shape = match ? this.shapes[match[2]!] : undefined;
      const expected = layer != null && shape != null ? shape(layer) : null;
      if (match == null || layer == null || expected == null) {
        throw new Error(
          `${this.owner}.setWeights: unexpected state entry '${name}' for this model`,
        );
      }
      if (!tf.util.arraysEqual(tensor.shape, [...expected])) {
        throw new Error(
          `${this.owner}.setWeights: '${name}' for layer '${layer.path}' must have shape ` +
            `[${expected}], got [${tensor.shape}]`,
        );
      }
      updates.push([match[2]!, layer, tensor]);
    }
    this.checkComplete(updates);
    return updates;
  }

  /**
   * Per owner and group, a saved state is all or nothing (an owner may lack a group: a layer
   * that had no gradient yet, factors whose inverses are not computed yet), and a group comes
   * only with the groups before it. A dropped entry is an error naming it, unless it was an
   * owner's only state (then the state is what it would be before that owner's first step).
   */
  private checkComplete(updates: Array<[string, K, tf.Tensor]>): void {
    const present = new Set(updates.map(([slot, owner]) => `${owner.index}/${slot}`));
    const name = (owner: K, slot: string) => `'${this.prefix}/${owner.index}/${slot}'`;
    for (const owner of this.layers) {
      let missing: string | null = null;
      for (const group of this.groups) {
        const defined = group.filter((slot) => this.shapes[slot]!(owner) != null);
        const held = defined.filter((slot) => present.has(`${owner.index}/${slot}`));
        const lacking = defined.find((slot) => !held.includes(slot));
        if (held.length > 0 && (lacking != null || missing != null)) {
          throw new Error(
            `${this.owner}.setWeights: the state lacks ${name(owner, lacking ?? missing!)} ` +
              `(for '${owner.path}') beside ${name(owner, held[0]!)}; a saved state holds ` +
              `all of a layer's [${defined.join(', ')}] or none, and them only with ` +
              'what they are computed from',
          );
        }
        if (defined.length > 0 && held.length === 0) missing ??= defined[0]!;
      }
    }
  }

  /** Throws (naming the entry) unless {@link load} would accept `state`; changes nothing. */
  validate(state: Map<string, tf.Tensor>): void {
    this.plan(state);
  }

  /**
   * Replaces every value by copies of `state`, validated first; the copies are taken before
   * anything is released, so the slots' own tensors can be passed back.
   */
  load(state: Map<string, tf.Tensor>): void {
    const copies = this.plan(state).map(
      ([slot, layer, tensor]) => [slot, layer, tf.keep(tf.clone(tensor))] as const,
    );
    this.background?.discard();
    this.release();
    for (const [slot, layer, tensor] of copies) this.set(slot, layer, tensor);
  }

  /** Stops the attached background work and releases every value. */
  dispose(): void {
    this.background?.terminate();
    this.release();
  }

  private release(): void {
    for (const values of this.values.values()) {
      values.forEach((t, i) => {
        t?.dispose();
        values[i] = null;
      });
    }
  }
}
