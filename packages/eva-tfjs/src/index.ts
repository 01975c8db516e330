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
export {
  createOptimizer,
  createOptimizerByName,
  optimizerNames,
  isOptimizerName,
  type RegistryOptions,
  type OptimizerName,
  type OptimizerOptionsByName,
  type OptimizerClassByName,
  type BaseOptimizerOptions,
} from './optimizer/registry.js';
export { DetachedOptimizer, FUNCTION_MARKER } from './optimizer/serialization.js';
export { attachOptimizer } from './optimizer/attach.js';
export {
  warmupDecaySchedule,
  setLearningRate,
  type LearningRateSchedule,
  type WarmupDecayOptions,
  type DecayKind,
} from './optimizer/schedule.js';
export type { Hyperparameter } from './optimizer/hyperparameter.js';
export {
  disposeIterationCounters,
  type NamedTensor,
  type GradientInput,
} from './optimizer/gradients.js';
export { enableFastKernels, disableFastKernels } from './kernels/fast-kernels.js';
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
export { EvaF, type EvaFOptions } from './optimizer/eva-f-optimizer.js';
export { EvaS, type EvaSOptions } from './optimizer/eva-s-optimizer.js';
export { KFAC, type KFACOptions } from './optimizer/kfac-optimizer.js';
export { FOOF, type FOOFOptions } from './optimizer/foof-optimizer.js';
export { Shampoo, type ShampooOptions } from './optimizer/shampoo-optimizer.js';
export { MFAC, type MFACOptions } from './optimizer/mfac-optimizer.js';
export { FactorOptimizer, type FactorOptions } from './optimizer/factor-optimizer.js';
export { WrappingOptimizer, type WrappingOptions } from './optimizer/wrapping-optimizer.js';
export { TensorwiseOptimizer } from './optimizer/tensorwise-optimizer.js';
export {
  Adagrad,
  Adam,
  AdamW,
  type AdagradOptions,
  type AdamOptions,
} from './optimizer/first-order/adaptive.js';
export { optimizerDescription, optimizerOptionNames } from './optimizer/registry.js';
export {
  dampedInverse,
  dampedInverseHost,
  dampedInverseNewton,
  type LinalgMethod,
} from './linalg/spd-inverse.js';
export { inverseRoot, inverseRootHost, inverseRootNewton } from './linalg/inverse-root.js';
