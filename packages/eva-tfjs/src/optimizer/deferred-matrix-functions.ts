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
   * One refresh: installs the waiting results and starts the thread on a snapshot of every
   * source (one host read). `parameters` gives each entry's parameter (ridge epsilon or damping)
   * from the snapshot (each entry's `size * size` values at its offset). Returns false when
   * there is nothing to compute.
   */
  refresh(parameters: (snapshot: Float32Array, offsets: readonly number[]) => number[]): boolean {
    if (this.entries.length === 0) return false;
    this.settle();
    const first = this.entries.some((e) => this.slots.get(e.next, e.owner) == null);
    if (!first) this.install();
    const snapshot = tf.tidy(() =>
      tf.concat(
        this.entries.map((e) => {
          const source = this.slots.get(e.source, e.owner);
          if (source == null) {
            throw new Error(`${this.name}: '${e.source}' of '${e.owner.path}' is not set yet`);
          }
          return tf.reshape(source, [-1]);
        }),
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
    this.worker.submit(values, parameters(values, offsets));
    if (first) {
      this.settle();
      this.install();
    }
    return true;
  }

  /** Waits for the results in flight, if any, and keeps them in the `next` slots. */
  settle(): void {
    if (this.worker == null || !this.worker.busy) return;
    const results = this.worker.wait();
    let offset = 0;
    for (const e of this.entries) {
      const values = results.subarray(offset, offset + e.size * e.size);
      this.slots.set(e.next, e.owner, tf.tensor2d(values, [e.size, e.size]));
      offset += e.size * e.size;
    }
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

  /** Every target takes (a copy of) its waiting result. */
  private install(): void {
    for (const e of this.entries) {
      this.slots.set(e.target, e.owner, tf.clone(this.slots.get(e.next, e.owner)!));
    }
  }
}
