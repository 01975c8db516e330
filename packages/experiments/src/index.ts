/**
 * @eva-tfjs/experiments: the paper's experiments for Node: datasets (offline loaders), models,
 * training runs with checkpoints, reports, step benchmarks and backend selection. The
 * `eva-tfjs` command is built on these.
 * @packageDocumentation
 */
export * from './models/index.js';
export {
  loadDataset,
  DATASET_NAMES,
  type DatasetName,
  type LoadDatasetOptions,
} from './data/load-dataset.js';
export { loadMnist, MNIST_MEAN, MNIST_STD, type MnistOptions } from './data/mnist.js';
export { loadFashionMnist, type IdxDatasetOptions } from './data/fashion-mnist.js';
export { generateCurves, type CurvesOptions } from './data/curves.js';
export {
  loadCifar,
  parseCifarRecords,
  type CifarOptions,
  type CifarVariant,
} from './data/cifar.js';
export { parseIdx, readIdx, type IdxArray } from './data/idx.js';
export { seededRandom, seededPermutation } from './data/random.js';
export { takeSamples, type Dataset, type ImageSet } from './data/dataset.js';
export {
  runTraining,
  type RunConfig,
  type RunResult,
  type EpochRecord,
} from './experiments/train-run.js';
export { writeReport, type LabelledRun, type ReportSettings } from './experiments/report.js';
export {
  benchmarkSteps,
  benchmarkTable,
  benchmarkData,
  type StepBenchmarkOptions,
  type StepBenchmarkRow,
  parseBenchmarkLabel,
  type BenchmarkLabel,
} from './experiments/step-benchmark.js';
export { setupBackend, BACKEND_NAMES, type BackendName } from './experiments/backend-setup.js';
