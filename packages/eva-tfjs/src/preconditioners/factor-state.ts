/**
 * The state of the factor-based algorithms (K-FAC, FOOF): per layer its Kronecker factors and
 * their damped inverses; with `inverseWorker`, also the inverses waiting for the next refresh
 * (`next<Inverse>`) and the worker thread that computes them ({@link DeferredMatrixFunctions}).
 */
import type { CapturedLayer } from '../capture/model-capture.js';
import type * as tf from '@tensorflow/tfjs-core';
import {
  checkWaitingResults,
  DeferredMatrixFunctions,
} from '../optimizer/deferred-matrix-functions.js';
import { StateSlots, type SlotShapes } from '../optimizer/state-slots.js';

/** A factor slot and the slot of its damped inverse. */
export interface FactorInverse {
  readonly factor: string;
  readonly inverse: string;
}

/** The slot holding the inverse the next refresh installs (inverseWorker). */
export const nextSlot = (inverse: string) => `next${inverse[0]!.toUpperCase()}${inverse.slice(1)}`;

/** Factors and inverses per layer, with the inverses optionally computed on a worker thread. */
export class FactorState extends StateSlots {
  /** With `inverseWorker`: the inverses computed on a worker thread, one refresh late. */
  readonly deferred: DeferredMatrixFunctions<CapturedLayer> | null;

  /**
   * @param algorithmName the algorithm's name (messages, e.g. `'KFAC'`)
   * @param prefix the state names' prefix (e.g. `'kfac'`)
   * @param layers the captured layers
   * @param shapes every slot's shape (factors and inverses)
   * @param factors which slot is whose inverse, in the order of a layer's work
   * @param inverseWorker whether a worker thread computes the inverses
   */
  constructor(
    private readonly algorithmName: string,
    prefix: string,
    layers: readonly CapturedLayer[],
    shapes: SlotShapes,
    factors: readonly FactorInverse[],
    inverseWorker: boolean,
  ) {
    const all: SlotShapes = { ...shapes };
    if (inverseWorker) for (const f of factors) all[nextSlot(f.inverse)] = shapes[f.inverse]!;
    const groups = [factors.map((f) => f.factor), factors.map((f) => f.inverse)];
    if (inverseWorker) groups.push(factors.map((f) => nextSlot(f.inverse)));
    super(algorithmName, prefix, layers, all, groups);
    this.deferred = inverseWorker
      ? new DeferredMatrixFunctions(
          `${algorithmName} (inverseWorker)`,
          this,
          layers.flatMap((layer) =>
            factors.map((f) => ({
              owner: layer,
              source: f.factor,
              target: f.inverse,
              next: nextSlot(f.inverse),
              size: shapes[f.inverse]!(layer)![0]!,
              operation: { kind: 'dampedInverse' } as const,
            })),
          ),
        )
      : null;
  }

  /** Also refuses a state saved with the other `inverseWorker` setting, saying so. */
  override validate(state: Map<string, tf.Tensor>): void {
    checkWaitingResults(
      this.algorithmName,
      'inverseWorker',
      this.deferred != null,
      state,
      /^inverse/,
    );
    super.validate(state);
  }
}

/** The trace of the `n x n` row-major matrix at `offset` of `values`. */
export function traceAt(values: ArrayLike<number>, offset: number, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[offset + i * n + i]!;
  return sum;
}
