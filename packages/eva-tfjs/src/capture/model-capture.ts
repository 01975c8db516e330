/**
 * Layer capture: re-routes the `call` of every Dense/Conv2D layer of a model so that, on
 * training passes, a statistic of the layer input and of the gradient w.r.t. the layer's
 * PRE-activation output are recorded. The linear part runs as plain tf ops (so backprop
 * computes only the gradients it needs), followed by an identity node with a custom gradient
 * that sees `dy`, then the activation. Fused activations are thereby split off, which is what
 * makes the pre-activation gradient visible at all.
 *
 * What is recorded is decided by the {@link StatisticFunctions} a preconditioner passes in
 * (batch means for Eva, per-sample rows or factors for K-FAC-like methods).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  discoverLayers,
  type LayerFilter,
  type LayerGeometry,
  type LinearLayerInternals,
} from './layer-geometry.js';

/** How a preconditioner turns a layer's input and output gradient into statistics. */
export interface StatisticFunctions {
  /** From the first `statsBatchSize` samples of the layer input (original shape). */
  activation(x: tf.Tensor, geometry: LayerGeometry): tf.Tensor;
  /** From the same samples' gradient w.r.t. the pre-activation output (original shape). */
  gradient(dy: tf.Tensor, geometry: LayerGeometry): tf.Tensor;
  /**
   * How the gradient statistic scales with the loss normalisation (1 for a mean of `dy`, 2 for
   * `dy^T dy`, 0 when it does not depend on `dy`): data-parallel training, where each rank's
   * `dy` carries 1/local batch instead of 1/global batch, divides the averaged statistic by
   * `ranks^degree` so it equals the single-process statistic of the global batch.
   */
  readonly gradientDegree: 0 | 1 | 2;
}

/** Options of {@link ModelCapture}. */
export interface CaptureOptions {
  /** Only the first this-many samples of a batch feed the statistics. */
  statsBatchSize: number;
  /** Asked on every training forward pass: record statistics on this pass? */
  shouldCapture: () => boolean;
  statistics: StatisticFunctions;
  skipLayers?: LayerFilter;
}

/** Statistics of one layer for one optimizer step (averaged over the passes since the last step). */
export interface CapturedStatistics {
  activation: tf.Tensor;
  gradient: tf.Tensor;
}

const CAPTURED = Symbol('eva-tfjs.captured');

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor;
interface PatchableLayer {
  call: CallFn;
  invokeCallHook?: (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => void;
  [CAPTURED]?: boolean;
}

/** One captured layer: its geometry and the statistics recorded since the last step. */
export class CapturedLayer {
  private activationSum: tf.Tensor | null = null;
  private gradientSum: tf.Tensor | null = null;
  private passes = 0;

  constructor(
    /** The tfjs layer. */
    readonly layer: tfl.layers.Layer,
    /** Container path, e.g. `encoder/dense_1`. */
    readonly path: string,
    /** Position among the model's captured layers (stable across identical architectures). */
    readonly index: number,
    readonly geometry: LayerGeometry,
  ) {}

  /** Whether statistics were recorded since the last {@link takeStatistics}. */
  get hasPending(): boolean {
    return this.passes > 0;
  }

  /** @internal Adds one pass's statistics (called from the backward pass). */
  record(activation: tf.Tensor, gradient: tf.Tensor): void {
    const add = (sum: tf.Tensor | null, value: tf.Tensor) => {
      const next = tf.keep(sum == null ? tf.clone(value) : tf.add(sum, value));
      sum?.dispose();
      return next;
    };
    this.activationSum = add(this.activationSum, activation);
    this.gradientSum = add(this.gradientSum, gradient);
    this.passes += 1;
  }

  /**
   * Returns the statistics recorded since the last call (averaged over passes, e.g. several
   * backward passes of gradient accumulation) and clears them; null if none. The caller owns
   * the returned tensors.
   */
  takeStatistics(): CapturedStatistics | null {
    if (this.passes === 0 || this.activationSum == null || this.gradientSum == null) return null;
    const passes = this.passes;
    const a = this.activationSum;
    const g = this.gradientSum;
    this.activationSum = null;
    this.gradientSum = null;
    this.passes = 0;
    if (passes === 1) return { activation: a, gradient: g };
    const result = tf.tidy(() => ({
      activation: tf.div(a, passes),
      gradient: tf.div(g, passes),
    }));
    a.dispose();
    g.dispose();
    return result;
  }

  /** Drops any recorded statistics. */
  discard(): void {
    this.activationSum?.dispose();
    this.gradientSum?.dispose();
    this.activationSum = null;
    this.gradientSum = null;
    this.passes = 0;
  }
}

function singleTensor(inputs: tf.Tensor | tf.Tensor[], path: string): tf.Tensor {
  if (!Array.isArray(inputs)) return inputs;
  if (inputs.length !== 1 || inputs[0] == null) {
    throw new Error(`Layer '${path}' expects exactly one input tensor, got ${inputs.length}`);
  }
  return inputs[0];
}

/**
 * Installs statistics capture on every Dense/Conv2D layer of a model (see the module doc).
 * `dispose()` restores the layers' original behaviour.
 */
export class ModelCapture {
  /** The captured layers, in model order. */
  readonly layers: readonly CapturedLayer[];
  private readonly restore: Array<() => void> = [];

  constructor(
    model: tfl.LayersModel,
    private readonly options: CaptureOptions,
  ) {
    if (!Number.isInteger(options.statsBatchSize) || options.statsBatchSize < 1) {
      throw new Error(
        `statsBatchSize must be a positive integer, got ${String(options.statsBatchSize)}`,
      );
    }
    const discovered = discoverLayers(model, options.skipLayers);
    for (const { layer, path } of discovered) {
      if ((layer as unknown as PatchableLayer)[CAPTURED]) {
        throw new Error(
          `Layer '${path}' is already captured by another optimizer; dispose that optimizer first`,
        );
      }
    }
    this.layers = discovered.map(
      ({ layer, path, geometry }, index) => new CapturedLayer(layer, path, index, geometry),
    );
    for (const captured of this.layers) this.install(captured);
  }

  private install(captured: CapturedLayer): void {
    const patchable = captured.layer as unknown as PatchableLayer;
    const internals = captured.layer as unknown as LinearLayerInternals;
    const hadOwnCall = Object.prototype.hasOwnProperty.call(patchable, 'call');
    const originalCall = patchable.call;
    const { geometry, path } = captured;
    const linear =
      geometry.kind === 'dense'
        ? (x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null) => {
            const lead = x.shape.slice(0, -1);
            const x2 = x.rank > 2 ? tf.reshape(x, [-1, geometry.inFeatures]) : x;
            let y: tf.Tensor = tf.matMul(x2 as tf.Tensor2D, kernel as tf.Tensor2D);
            if (bias != null) y = tf.add(y, bias);
            return x.rank > 2 ? tf.reshape(y, [...lead, geometry.outFeatures]) : y;
          }
        : (x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null) => {
            let y: tf.Tensor = tf.conv2d(
              x as tf.Tensor4D,
              kernel as tf.Tensor4D,
              [geometry.strides[0], geometry.strides[1]],
              geometry.padding,
              'NHWC',
            );
            if (bias != null) y = tf.add(y, bias);
            return y;
          };

    patchable.call = (inputs, kwargs) =>
      tf.tidy(() => {
        patchable.invokeCallHook?.(inputs, kwargs);
        const x = singleTensor(inputs, path);
        const kernel = internals.kernel!.read();
        const bias = internals.bias?.read() ?? null;
        let y = linear(x, kernel, bias);
        if (tf.engine().isTapeOn() && this.options.shouldCapture()) {
          y = this.captureNode(captured, x, y);
        }
        return internals.activation ? internals.activation.apply(y) : y;
      });
    patchable[CAPTURED] = true;
    this.restore.push(() => {
      if (hadOwnCall) patchable.call = originalCall;
      else delete (patchable as Partial<PatchableLayer>).call;
      delete patchable[CAPTURED];
    });
  }

  /** Identity on `y` whose gradient records (statistic of x, statistic of dy). */
  private captureNode(captured: CapturedLayer, x: tf.Tensor, y: tf.Tensor): tf.Tensor {
    const n = Math.min(this.options.statsBatchSize, x.shape[0] ?? 1);
    const head = (t: tf.Tensor) => (n < (t.shape[0] ?? 0) ? tf.slice(t, 0, n) : t);
    const { statistics } = this.options;
    const node = tf.customGrad((yIn, save) => {
      const activationStat = statistics.activation(head(x), captured.geometry);
      (save as tf.GradSaveFunc)([activationStat]);
      return {
        value: tf.clone(yIn as tf.Tensor),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const gradientStat = statistics.gradient(head(dy), captured.geometry);
          captured.record(saved[0]!, gradientStat);
          return tf.clone(dy);
        },
      };
    });
    return node(y);
  }

  /** Restores the layers' original `call` and drops pending statistics. */
  dispose(): void {
    for (const undo of this.restore.splice(0)) undo();
    for (const layer of this.layers) layer.discard();
  }
}
