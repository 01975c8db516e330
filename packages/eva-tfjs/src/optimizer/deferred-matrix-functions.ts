/**
 * Expensive matrix functions of state slots (inverse roots, damped inverses) computed on a
 * worker thread ({@link MatrixFunctionWorker}) while training goes on, and installed one refresh
 * late: on each refresh the results of the previous refresh are installed (waiting for the
 * thread only if it is still computing them) and a snapshot of the current statistics is handed
 * to the thread. A result waiting to be installed is itself state (a `next` slot), so saving
 * settles the thread first and a resumed run continues exactly as an uninterrupted one. When a
 * `next` slot has never been set (e.g. K-FAC's inverses before the first refresh), the first
 * refresh waits for its own results: nothing is used before it is computed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MatrixFunctionWorker } from '../linalg/matrix-worker.js';
import type { MatrixOperation } from '../linalg/matrix-worker-protocol.js';
import type { SlotOwner, StateSlots } from './state-slots.js';

/** One deferred matrix function: `target = f(source)` of one owner, with its waiting `next`. */
export interface DeferredEntry<K extends SlotOwner> {
  readonly owner: K;
  /** The slot read (a symmetric `size x size` statistic). */
  readonly source: string;
  /** The slot the preconditioner uses. */
  readonly target: string;
  /** The slot holding the result the next refresh installs. */
  readonly next: string;
  readonly size: number;
  readonly operation: MatrixOperation;
}

/**
 * Throws a clear error when a saved `state` and an optimizer disagree on `option` (a worker
 * option such as `inverseWorker`): a state saved with the option holds waiting results
 * (`<prefix>/<i>/next...` entries) that one without it cannot use; one saved without it has
 * results in use (slots named by `target`, e.g. `/^inverse/`) without waiting ones beside them.
 */
export function checkWaitingResults(
  owner: string,
  option: string,
  uses: boolean,
  state: ReadonlyMap<string, unknown>,
  target: RegExp,
): void {
  const byOwner = new Map<string, string[]>();
  for (const name of state.keys()) {
    const match = /^(.*\/\d+)\/(\w+)$/.exec(name);
    if (match == null) continue;
    byOwner.set(match[1]!, [...(byOwner.get(match[1]!) ?? []), match[2]!]);
  }
  const isNext = (slot: string) => /^next(\d|[A-Z])/.test(slot);
  for (const [prefix, slots] of byOwner) {
    const next = slots.find(isNext);
    if (!uses && next != null) {
      throw new Error(
        `${owner}.setWeights: the state was saved with ${option} ('${prefix}/${next}' holds a ` +
          `waiting result); load it into an optimizer with ${option}: true`,
      );
    }
    const inUse = slots.find((slot) => !isNext(slot) && target.test(slot));
    if (uses && next == null && inUse != null) {
      throw new Error(
        `${owner}.setWeights: the state was saved without ${option} ('${prefix}/${inUse}' has ` +
          `no waiting result beside it); load it into an optimizer with ${option}: false`,
      );
    }
  }
}

/** Background work whose results are state; see {@link StateSlots.attach}. */
export interface BackgroundWork {
  /** Finishes the work in flight and stores its results as state. */
  settle(): void;
  /** Finishes the work in flight and drops its results. */
  discard(): void;
  /** Stops the work for good. */
  terminate(): void;
}

/** Matrix functions of state slots, computed by a worker thread one refresh late. */
export class DeferredMatrixFunctions<K extends SlotOwner> implements BackgroundWork {
  private worker: MatrixFunctionWorker | null = null;
  /** Which entries took part in the request in flight. */
  private submitted: boolean[] = [];

  /**
   * @param name who computes, for error messages (e.g. `'KFAC'`)
   * @param slots the state holding every entry's slots (this attaches itself to it)
   * @param entries the functions, in a fixed order
   */
  constructor(
    private readonly name: string,
    private readonly slots: StateSlots<K>,
    readonly entries: readonly DeferredEntry<K>[],
  ) {
    if (!MatrixFunctionWorker.isSupported()) {
      throw new Error(
        `${name}: computing on a worker thread needs Node's worker_threads (Node >= 20.16) and ` +
          'SharedArrayBuffer; switch the worker option off in this runtime',
      );
    }
    slots.attach(this);
  }

  /**
   * One refresh: installs the waiting results and starts the thread on a snapshot of the
   * sources (one host read). Only entries that `include` accepts and whose source is set take
   * part (as the synchronous path refreshes only layers with statistics, or tensors with a
   * gradient this step); the others keep their waiting result, and their place in the request
   * is an identity. `parameters` gives each entry's parameter (ridge epsilon or damping) from the
   * snapshot (each entry's `size * size` values at its offset). An entry taking part for the
   * first time (its `next` never set) has this refresh wait for its own result. Returns false
   * when no entry takes part.
   */
  refresh(
    parameters: (snapshot: Float32Array, offsets: readonly number[]) => number[],
    include: (entry: DeferredEntry<K>) => boolean = () => true,
  ): boolean {
    this.settle();
    for (const e of this.entries) {
      const next = this.slots.get(e.next, e.owner);
      if (next != null) this.slots.set(e.target, e.owner, tf.clone(next));
    }
    const ready = this.entries.map((e) => include(e) && this.slots.get(e.source, e.owner) != null);
    if (!ready.some(Boolean)) return false;
    const snapshot = tf.tidy(() =>
      tf.concat(
        this.entries.map((e, i) =>
          tf.reshape(ready[i] ? this.slots.get(e.source, e.owner)! : tf.eye(e.size), [-1]),
        ),
      ),
    );
    let values: Float32Array;
    try {
      values = snapshot.dataSync() as Float32Array;
    } finally {
      snapshot.dispose();
    }
    const offsets: number[] = [];
    let offset = 0;
    for (const e of this.entries) {
      offsets.push(offset);
      offset += e.size * e.size;
    }
    this.worker ??= new MatrixFunctionWorker(
      this.entries.map((e) => e.size),
      this.entries.map((e) => e.operation),
      this.name,
    );
    const fresh = this.entries.filter(
      (e, i) => ready[i] && this.slots.get(e.next, e.owner) == null,
    );
    this.worker.submit(values, parameters(values, offsets));
    this.submitted = ready;
    if (fresh.length > 0) {
      this.settle();
      for (const e of fresh) {
        this.slots.set(e.target, e.owner, tf.clone(this.slots.get(e.next, e.owner)!));
      }
    }
    return true;
  }

  /**
   * Waits for the results in flight, if any, and keeps those of the entries that took part in
   * the request in their `next` slots.
   */
  settle(): void {
    if (this.worker == null || !this.worker.busy) return;
    const results = this.worker.wait();
    let offset = 0;
    this.entries.forEach((e, i) => {
      if (this.submitted[i]) {
        const values = results.subarray(offset, offset + e.size * e.size);
        this.slots.set(e.next, e.owner, tf.tensor2d(values, [e.size, e.size]));
      }
      offset += e.size * e.size;
    });
  }

  /** Waits for the results in flight, if any, and drops them. */
  discard(): void {
    this.worker?.discard();
  }

  /** Stops the thread. */
  terminate(): void {
    this.worker?.terminate();
    this.worker = null;
  }
}
