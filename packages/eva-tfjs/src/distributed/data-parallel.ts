/**
 * Data-parallel training for every optimizer of the library: each rank computes gradients on
 * its shard of the global batch; every step, the gradients and the optimizer's captured
 * statistics (Eva's vectors, K-FAC's factors on statistics steps) are averaged across ranks in
 * ONE fused allreduce before anything uses them, so every rank applies the identical update and
 * the weights stay bitwise identical. Statistics that depend on the per-rank loss normalisation
 * are rescaled so the result equals the single-process statistic of the global batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  disposeIterationCounters,
  gradientEntries,
  type GradientInput,
  type NamedTensor,
} from '../optimizer/gradients.js';
import { isWrappingOptimizer } from '../optimizer/wrapping-optimizer.js';
import type { Communicator } from './communicator.js';

/**
 * Averages `tensors` across ranks with one allreduce of a fused buffer: each result is the
 * mean divided by `size^degree` (see `StatisticFunctions.gradientDegree`). Reads the tensors
 * back (`dataSync`): MPI works on host memory. With one rank the mean is the tensor itself:
 * no host read, no collective (the results are clones sharing the inputs' data).
 */
export function allreduceMean(
  communicator: Communicator,
  tensors: tf.Tensor[],
  degrees: number[],
  buffer?: { data: Float32Array },
): tf.Tensor[] {
  if (communicator.size === 1) return tensors.map((t) => tf.clone(t));
  const total = tensors.reduce((n, t) => n + t.size, 0);
  const holder = buffer ?? { data: new Float32Array(total) };
  if (holder.data.length !== total) holder.data = new Float32Array(total);
  const data = holder.data;
  let offset = 0;
  for (const t of tensors) {
    data.set(t.dataSync() as Float32Array, offset);
    offset += t.size;
  }
  communicator.allreduceSum(data);
  offset = 0;
  return tensors.map((t, i) => {
    const scale = 1 / Math.pow(communicator.size, 1 + (degrees[i] ?? 0));
    // A copy per tensor (backends may keep the array they are given; the buffer is reused).
    const values = data.slice(offset, offset + t.size);
    for (let k = 0; k < values.length; k++) values[k]! *= scale;
    offset += t.size;
    return tf.tensor(values, t.shape, 'float32');
  });
}

/** A `tf.Optimizer` that makes `inner` data-parallel over `communicator`. */
export class DataParallel extends tf.Optimizer {
  static className = 'DataParallel';
  private readonly buffer = { data: new Float32Array(0) };
  /** Seconds spent in collectives (host reads included), for benchmarks. */
  communicationSeconds = 0;
  /** Floats allreduced so far. */
  communicatedFloats = 0;

  constructor(
    readonly inner: tf.Optimizer,
    readonly communicator: Communicator,
  ) {
    super();
    if (!(inner instanceof tf.Optimizer)) {
      throw new Error('DataParallel: the first argument must be a tfjs optimizer');
    }
    if (isWrappingOptimizer(inner)) {
      inner.setReplicaReducer((tensors, degrees) => this.reduce(tensors, degrees));
    }
  }

  /** The wrapped optimizer's class name: a model saved while training data-parallel loads with it. */
  override getClassName(): string {
    return this.inner.getClassName();
  }

  private reduce(tensors: tf.Tensor[], degrees: number[]): tf.Tensor[] {
    const start = performance.now();
    const result = allreduceMean(this.communicator, tensors, degrees, this.buffer);
    this.communicationSeconds += (performance.now() - start) / 1000;
    this.communicatedFloats += this.buffer.data.length;
    return result;
  }

  /** Averages the gradients (and, through the wrapped optimizer, its statistics); then steps. */
  applyGradients(variableGradients: GradientInput): void {
    if (isWrappingOptimizer(this.inner)) {
      this.inner.applyGradients(variableGradients);
    } else {
      const entries = gradientEntries(variableGradients);
      const averaged = this.reduce(
        entries.map((e) => e.gradient),
        entries.map(() => 0),
      );
      try {
        this.inner.applyGradients(entries.map((e, i) => ({ name: e.name, tensor: averaged[i]! })));
      } finally {
        tf.dispose(averaged);
      }
    }
    this.incrementIterations();
  }

  /**
   * Makes every rank start from rank 0's model weights (BatchNorm statistics included) and
   * optimizer state. Call once after building the model and optimizer (and after restoring a
   * checkpoint), before training.
   */
  async synchronize(model: tfl.LayersModel): Promise<void> {
    const weights = model.getWeights();
    const broadcast = (tensors: tf.Tensor[]) => {
      const total = tensors.reduce((n, t) => n + t.size, 0);
      const data = new Float32Array(total);
      let offset = 0;
      for (const t of tensors) {
        data.set(
          t.dtype === 'float32' ? (t.dataSync() as Float32Array) : Float32Array.from(t.dataSync()),
          offset,
        );
        offset += t.size;
      }
      this.communicator.broadcast(data, 0);
      offset = 0;
      return tensors.map((t) => {
        const values = data.subarray(offset, offset + t.size);
        offset += t.size;
        return tf.tensor(Float32Array.from(values), t.shape, t.dtype);
      });
    };
    const synced = broadcast(weights);
    model.setWeights(synced);
    tf.dispose(synced);
    const state = await this.inner.getWeights().catch(() => [] as NamedTensor[]);
    // Every rank must hold the same state layout; compare the element counts first.
    const count = new Float32Array([state.length, state.reduce((n, w) => n + w.tensor.size, 0)]);
    const reference = Float32Array.from(count);
    this.communicator.broadcast(reference, 0);
    if (reference[0] !== count[0] || reference[1] !== count[1]) {
      disposeIterationCounters(state);
      throw new Error(
        `DataParallel.synchronize: rank ${this.communicator.rank} has optimizer state of ` +
          `${count[0]} tensors / ${count[1]} values, rank 0 of ${reference[0]} / ${reference[1]}`,
      );
    }
    if (state.length > 0) {
      const values = broadcast(state.map((w) => w.tensor));
      disposeIterationCounters(state);
      await this.inner.setWeights(state.map((w, i) => ({ name: w.name, tensor: values[i]! })));
      tf.dispose(values);
    }
  }

  /**
   * The wrapped optimizer's `lastScale` (see `WrappingOptimizer.lastScale`): the same on every
   * rank, since every rank preconditions the same reduced gradients. Null for first-order
   * optimizers.
   */
  get lastScale(): tf.Scalar | null {
    return isWrappingOptimizer(this.inner) ? this.inner.lastScale : null;
  }

  /** The wrapped optimizer's `skippedSteps` (0 for optimizers that do not skip). */
  get skippedSteps(): number {
    const skipped = (this.inner as { skippedSteps?: unknown }).skippedSteps;
    return typeof skipped === 'number' ? skipped : 0;
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return this.inner.getWeights();
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    await this.inner.setWeights(weightValues);
  }

  /** The wrapped optimizer's configuration (see {@link getClassName}). */
  override getConfig(): tf.serialization.ConfigDict {
    return this.inner.getConfig();
  }

  override dispose(): void {
    if (isWrappingOptimizer(this.inner)) this.inner.setReplicaReducer(null);
    this.inner.dispose();
    super.dispose();
  }
}
