/**
 * K-FAC (Martens & Grosse; the reference's variant): per layer the Fisher block is approximated
 * by `A (x) Gf` with `A = a^T a / n` over the (bias-augmented) input rows and `Gf = g^T g / n` over
 * the pre-activation gradient rows (Conv2D rows are spatial means per sample). Damping is split
 * between the factors with `pi`, and in tfjs layout the update is `P = A^-1 Gt Gf^-1`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { activationFactor, gradientFactor } from '../capture/statistics.js';
import type { StatisticFunctions } from '../capture/model-capture.js';
import { dampedInverse, type InverseMethod } from '../linalg/spd-inverse.js';
import type { LayerwiseAlgorithm } from '../optimizer/algorithm.js';
import type { AssertDeclared, Hyperparameter, OptionValues } from '../optimizer/options.js';
import { registerWrappedOptimizer } from '../optimizer/serialization.js';
import {
  WrappingOptimizer,
  type LAYERWISE_OPTIONS,
  type LayerwiseOptions,
  type WRAPPING_OPTIONS,
} from '../optimizer/wrapping-optimizer.js';
import { FactorState, traceAt } from './factor-state.js';
import { augmentedIn, layerMatrix, matrixDirection } from './layer-math.js';
import { CURVATURE_OPTIONS, FACTOR_INVERSE_OPTIONS, KL_CLIP_OPTION } from './shared-options.js';

/** K-FAC's statistics: both Kronecker factors. */
export const kfacStatistics: StatisticFunctions = {
  activation: activationFactor,
  gradient: gradientFactor,
  gradientDegree: 2,
};

/** The reference's cap on `pi`. */
const MAX_PI = 1e10;

/**
 * The damping split `pi = sqrt((tr A / dim A) / (tr Gf / dim Gf))`, capped at 1e10; 1 when it is
 * undefined (a zero factor), so both factors then get `sqrt(gamma)`.
 */
export function dampingSplit(traceA: number, dimA: number, traceG: number, dimG: number): number {
  const pi = Math.sqrt(traceA / dimA / (traceG / dimG));
  if (!Number.isFinite(pi) || pi <= 0) return traceA > 0 && !(traceG > 0) ? MAX_PI : 1;
  return Math.min(pi, MAX_PI);
}

/** The trace of a square matrix as a scalar tensor (call inside a tidy). */
export function trace(matrix: tf.Tensor2D): tf.Scalar {
  return tf.sum(tf.mul(matrix, tf.eye(matrix.shape[0]))) as tf.Scalar;
}

/** `P = A^-1 Gt Gf^-1` in tfjs layout. */
export function kfacApply(
  gt: tf.Tensor2D,
  inverseA: tf.Tensor2D,
  inverseG: tf.Tensor2D,
): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(tf.matMul(inverseA, gt), inverseG));
}

/** Options of the factor-based optimizers (K-FAC, FOOF). */
export interface FactorOptions extends LayerwiseOptions {
  /** Damping gamma (default 0.03). */
  damping?: Hyperparameter;
  /** Running-average weight of new factors, in (0, 1] (default 0.95). */
  factorDecay?: Hyperparameter;
  /** Recompute the inverses every this-many steps (default 1; the paper also uses 10 and 50). */
  invUpdateFreq?: number;
  /**
   * How the damped inverses are computed (src/linalg/spd-inverse.ts, bench/linalg.md):
   * `'blocked'` (default) recursive 2x2 blocks with the products in float32 on the tensor
   * backend and blocks of at most 64 rows in float64 on the host; `'host'` float64 Cholesky;
   * `'newton'` Newton-Schulz iteration on tf ops (no host read).
   */
  linalg?: InverseMethod;
  /**
   * Compute the inverses by float64 Cholesky on a worker thread on another core (Node only),
   * in place of the `linalg` route (which must then be left at 'blocked' or set to 'host'):
   * each refresh's inverses take effect at the next refresh; a layer's first refresh waits for
   * its own (default false). It pays off when the thread's inverses fit within
   * `invUpdateFreq` steps (e.g. 10 for the paper's autoencoder); at interval 1 every step waits
   * for them (a warning says so).
   */
  inverseWorker?: boolean;
}

/**
 * Throws unless `linalg` fits `inverseWorker` (the thread computes by float64 Cholesky, whatever
 * `linalg` says, so only its default and 'host' are accepted); warns that the worker at interval
 * 1 waits every step for float64 inverses, slower than the default 'blocked' route.
 */
export function checkInverseWorker(
  owner: string,
  { inverseWorker, linalg, invUpdateFreq }: OptionValues<typeof FACTOR_INVERSE_OPTIONS>,
): void {
  if (!inverseWorker) return;
  if (linalg === 'newton') {
    throw new Error(
      `${owner}: inverseWorker computes the inverses by float64 Cholesky; linalg 'newton' ` +
        "cannot apply (leave linalg at 'blocked' or set 'host')",
    );
  }
  if (invUpdateFreq === 1) {
    console.warn(
      `${owner}: inverseWorker with invUpdateFreq 1 waits every step for the thread's float64 ` +
        "inverses, slower than the default 'blocked' route on the training thread; it pays off " +
        'when the inverses fit within the interval (e.g. invUpdateFreq 10)',
    );
  }
}

/** Options of {@link KFAC}; defaults are the reference implementation's. */
export interface KFACOptions extends FactorOptions {
  /**
   * KL-clipping threshold (default 0.001); `0` rescales to the gradient norm; `null` disables.
   */
  klClip?: Hyperparameter | null;
}

const OPTIONS = { ...CURVATURE_OPTIONS, ...FACTOR_INVERSE_OPTIONS, ...KL_CLIP_OPTION };
const declared: AssertDeclared<
  KFACOptions,
  typeof WRAPPING_OPTIONS & typeof LAYERWISE_OPTIONS & typeof OPTIONS
> = true;
void declared;

const outFeatures = (l: { geometry: { outFeatures: number } }) => l.geometry.outFeatures;

/** K-FAC as an algorithm of the step pipeline: two factors and their inverses per layer. */
export const kfacAlgorithm: LayerwiseAlgorithm<typeof OPTIONS, FactorState> = {
  kind: 'layerwise',
  name: 'KFAC',
  options: OPTIONS,
  statistics: kfacStatistics,
  scaling: 'klClip',
  inverseInterval: 'invUpdateFreq',
  createState(layers, options) {
    checkInverseWorker('KFAC', options);
    return new FactorState(
      'KFAC',
      'kfac',
      layers,
      {
        A: (l) => [augmentedIn(l), augmentedIn(l)],
        G: (l) => [outFeatures(l), outFeatures(l)],
        inverseA: (l) => [augmentedIn(l), augmentedIn(l)],
        inverseG: (l) => [outFeatures(l), outFeatures(l)],
      },
      [
        { factor: 'A', inverse: 'inverseA' },
        { factor: 'G', inverse: 'inverseG' },
      ],
      options.inverseWorker,
    );
  },
  updateStatistics(state, layer, statistics, { factorDecay }) {
    state.average('A', layer, statistics.activation, factorDecay);
    state.average('G', layer, statistics.gradient, factorDecay);
  },
  updateInverses(state, layer, { damping, linalg }) {
    const a = state.get('A', layer) as tf.Tensor2D | null;
    const g = state.get('G', layer) as tf.Tensor2D | null;
    if (a == null || g == null) return false;
    const traces = tf.tidy(() => tf.stack([trace(a), trace(g)]));
    const [traceA, traceG] = traces.dataSync();
    traces.dispose();
    const pi = dampingSplit(traceA!, a.shape[0], traceG!, g.shape[0]);
    const root = Math.sqrt(damping);
    state.set('inverseA', layer, dampedInverse(a, root * pi, linalg));
    state.set('inverseG', layer, dampedInverse(g, root / pi, linalg));
    return true;
  },
  refreshInverses(state, _layers, { damping }) {
    const deferred = state.deferred;
    if (deferred == null) return null;
    const root = Math.sqrt(damping);
    // Entries come in pairs per layer (A, then G), as the state lists them.
    return deferred.refresh((snapshot, offsets) => {
      const parameters: number[] = [];
      for (let i = 0; i < deferred.entries.length; i += 2) {
        const nA = deferred.entries[i]!.size;
        const nG = deferred.entries[i + 1]!.size;
        const pi = dampingSplit(
          traceAt(snapshot, offsets[i]!, nA),
          nA,
          traceAt(snapshot, offsets[i + 1]!, nG),
          nG,
        );
        parameters.push(root * pi, root / pi);
      }
      return parameters;
    });
  },
  isReady: (state, layer) => state.get('inverseA', layer) != null,
  precondition(state, layer, gradient) {
    const gt = layerMatrix(layer.geometry, gradient);
    const p = kfacApply(
      gt,
      state.get('inverseA', layer) as tf.Tensor2D,
      state.get('inverseG', layer) as tf.Tensor2D,
    );
    return matrixDirection(layer.geometry, gt, p, gradient.bias != null);
  },
};

/**
 * K-FAC: per Dense/Conv2D layer the factors `A` (input, bias-augmented) and `Gf`
 * (pre-activation gradient) from the first `statsBatchSize` samples, running averages, damping
 * split with `pi`, inverses every `invUpdateFreq` steps, `P = Gf^-1 G A^-1`, KL clipping with
 * the base optimizer's learning rate.
 */
export class KFAC extends WrappingOptimizer<FactorState> {
  static className = 'KFAC';

  /**
   * @param model the model whose Dense/Conv2D layers are preconditioned (must be built)
   * @param base the tfjs optimizer that applies the update, e.g. `tf.train.momentum(0.1, 0.9)`
   * @param options see {@link KFACOptions}
   */
  constructor(model: tfl.LayersModel, base: tf.Optimizer, options: KFACOptions = {}) {
    super(model, base, options, kfacAlgorithm);
  }
}

registerWrappedOptimizer(KFAC);
