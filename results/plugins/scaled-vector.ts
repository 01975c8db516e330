/**
 * What the ablation plugins share: a layer-wise algorithm whose running statistic (the
 * activation vector or the gradient vector) is multiplied by a non-negative number option before
 * it enters the state. Factor 1 is the algorithm itself; 0 removes its curvature term.
 */
import * as tf from '@tensorflow/tfjs';
import {
  defineOptions,
  nonNegative,
  type LayerwiseAlgorithm,
  type OptionSpecs,
  type StateSlots,
} from 'eva-tfjs';

/** The number option a scaled-vector algorithm adds to its algorithm's options. */
interface ScaleOption {
  kind: 'number';
  default: number;
  constraint: typeof nonNegative;
  description: string;
}

/**
 * `algorithm` with its `vector` statistic multiplied by the option `option` (default 1).
 * @param name the new algorithm's name (errors and state keys)
 * @param description the option's help text
 */
export function withScaledVector<S extends OptionSpecs, K extends string>(
  algorithm: LayerwiseAlgorithm<S, StateSlots>,
  name: string,
  vector: 'activation' | 'gradient',
  option: K,
  description: string,
): LayerwiseAlgorithm<S & Record<K, ScaleOption>, StateSlots> {
  const scale: ScaleOption = { kind: 'number', default: 1, constraint: nonNegative, description };
  const options = defineOptions({ ...algorithm.options, [option]: scale }) as S &
    Record<K, ScaleOption>;
  return {
    ...algorithm,
    name,
    options,
    updateStatistics(state, layer, statistics, step) {
      const factor = (step as unknown as Record<K, number>)[option];
      const scaled = tf.mul(statistics[vector], factor);
      algorithm.updateStatistics(state, layer, { ...statistics, [vector]: scaled }, step);
      scaled.dispose();
    },
  };
}
