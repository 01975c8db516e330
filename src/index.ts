/**
 * eva-tfjs: fast second-order optimizers for TensorFlow.js.
 * @packageDocumentation
 */
export { Eva, type EvaOptions, type KroneckerVectors } from './optimizer/eva-optimizer.js';
export {
  PreconditionedOptimizer,
  type PreconditionedOptions,
  type NonFinitePolicy,
  type LayerGradients,
} from './optimizer/preconditioned-optimizer.js';
export { SGD, type SGDOptions } from './optimizer/first-order/sgd.js';
export { createOptimizer, optimizerNames, type RegistryOptions } from './optimizer/registry.js';
export {
  warmupDecaySchedule,
  setLearningRate,
  type LearningRateSchedule,
  type WarmupDecayOptions,
  type DecayKind,
} from './optimizer/schedule.js';
export type { Hyperparameter } from './optimizer/hyperparameter.js';
export type { NamedTensor, GradientInput } from './optimizer/gradients.js';
export { enableFastKernels } from './kernels/fast-kernels.js';
export {
  ModelCapture,
  CapturedLayer,
  type CaptureOptions,
  type CapturedStatistics,
  type StatisticFunctions,
} from './capture/model-capture.js';
export {
  discoverLayers,
  type LayerGeometry,
  type DenseGeometry,
  type Conv2DGeometry,
  type LayerFilter,
  type DiscoveredLayer,
} from './capture/layer-geometry.js';
export {
  activationMean,
  activationRows,
  gradientMean,
  gradientRows,
  meanPatches,
} from './capture/statistics.js';
