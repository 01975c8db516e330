/**
 * eva-tfjs: fast second-order optimizers for TensorFlow.js.
 * @packageDocumentation
 */

// The optimizers (each module: its math, its algorithm for the step pipeline, its class).
export {
  Eva,
  evaAlgorithm,
  type EvaOptions,
  type KroneckerVectors,
} from './preconditioners/eva.js';
export { EvaF, evaFAlgorithm, type EvaFOptions } from './preconditioners/eva-f.js';
export { EvaS, evaSAlgorithm, type EvaSOptions } from './preconditioners/eva-s.js';
export {
  KFAC,
  kfacAlgorithm,
  type KFACOptions,
  type FactorOptions,
} from './preconditioners/kfac.js';
export { FOOF, foofAlgorithm, type FOOFOptions } from './preconditioners/foof.js';
export {
  Shampoo,
  shampooAlgorithm,
  ShampooState,
  type ShampooOptions,
} from './preconditioners/shampoo.js';
export type { BlockLayout, Block } from './preconditioners/shampoo.js';
export { MFAC, mfacAlgorithm, GradientWindow, type MFACOptions } from './preconditioners/mfac.js';
export { SGD, type NesterovVariant, type SGDOptions } from './optimizer/first-order/sgd.js';
export {
  Adagrad,
  Adam,
  AdamW,
  type AdagradOptions,
  type AdamOptions,
} from './optimizer/first-order/adaptive.js';

// The step pipeline and what plugs into it.
export {
  WrappingOptimizer,
  optionSpecsOf,
  WRAPPING_OPTIONS,
  LAYERWISE_OPTIONS,
  type WrappingOptions,
  type LayerwiseOptions,
  type NonFinitePolicy,
  type ReplicaReducer,
} from './optimizer/wrapping-optimizer.js';
export type {
  Algorithm,
  AlgorithmState,
  LayerwiseAlgorithm,
  TensorwiseAlgorithm,
  LayerDirection,
  LayerScaling,
  VariableGradient,
} from './optimizer/algorithm.js';
export {
  defineOptions,
  validateOptions,
  resolveOptions,
  checkNumber,
  every,
  positive,
  nonNegative,
  unitInterval,
  fraction,
  positiveInteger,
  type Hyperparameter,
  type Constraint,
  type OptionSpec,
  type OptionSpecs,
  type OptionValues,
  type StepValues,
  type AssertDeclared,
} from './optimizer/options.js';
export { StateSlots, type SlotOwner, type SlotShapes } from './optimizer/state-slots.js';
export {
  DeferredMatrixFunctions,
  type DeferredEntry,
  type BackgroundWork,
} from './optimizer/deferred-matrix-functions.js';
export { FactorState, type FactorInverse } from './preconditioners/factor-state.js';
export type { ModelVariable } from './optimizer/model-variables.js';
export {
  augmentedIn,
  splitActivation,
  layerMatrix,
  splitLayerMatrix,
  matrixDirection,
  graftToNorm,
  type LayerGradient,
} from './preconditioners/layer-math.js';
export {
  CURVATURE_OPTIONS,
  INVERSE_OPTIONS,
  FACTOR_INVERSE_OPTIONS,
  KL_CLIP_OPTION,
  KL_NORMALIZE_OPTION,
} from './preconditioners/shared-options.js';

// The registry, saving and loading.
export {
  createOptimizer,
  createOptimizerByName,
  registerOptimizer,
  optimizerNames,
  optimizerEntry,
  optimizerDescription,
  optimizerOptionNames,
  isOptimizerName,
  type RegistryOptions,
  type OptimizerName,
  type OptimizerOptionsByName,
  type OptimizerClassByName,
  type BaseOptimizerOptions,
  type OptimizerEntry,
  type AlgorithmEntry,
  type TestSettings,
} from './optimizer/registry.js';
export { DetachedOptimizer, FUNCTION_MARKER } from './optimizer/serialization.js';
export { attachOptimizer } from './optimizer/attach.js';

// Schedules and gradients.
export {
  warmupDecaySchedule,
  setLearningRate,
  type LearningRateSchedule,
  type WarmupDecayOptions,
  type DecayKind,
} from './optimizer/schedule.js';
export {
  disposeIterationCounters,
  type NamedTensor,
  type GradientInput,
  type GradientEntry,
} from './optimizer/gradients.js';

// Layer capture.
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
  activationFactor,
  gradientMean,
  gradientRows,
  gradientFactor,
  covariance,
  meanPatches,
} from './capture/statistics.js';

// Kernels and linear algebra.
export { enableFastKernels, disableFastKernels } from './kernels/fast-kernels.js';
export {
  dampedInverse,
  dampedInverseBlocked,
  dampedInverseHost,
  dampedInverseNewton,
  type BlockedOptions,
  type InverseMethod,
  type LinalgMethod,
} from './linalg/spd-inverse.js';
export { inverseRoot, inverseRootHost, inverseRootNewton } from './linalg/inverse-root.js';
export { MatrixFunctionWorker } from './linalg/matrix-worker.js';
export type { MatrixOperation } from './linalg/matrix-worker-protocol.js';
