/**
 * One training run: a model of the experiments on a dataset with one optimizer from the
 * registry, through `model.fit` (one call per epoch on a seeded permutation of the training
 * set), with the warm-up/decay schedule driving the learning rate, per-epoch train and test
 * metrics, skipped steps and wall time, and optional checkpoints after every epoch to resume
 * from.
 *
 * A run that diverges stops with an error instead of going on silently: an epoch whose every
 * step was skipped (non-finite gradients), a non-finite train or test loss, or non-finite
 * weights or optimizer state. Nothing non-finite is ever checkpointed: the last good checkpoint
 * stays.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { seededPermutation } from '../data/random.js';
import {
  createOptimizerByName,
  type RegistryOptions,
  disposeIterationCounters,
  setLearningRate,
  warmupDecaySchedule,
  type DecayKind,
} from 'eva-tfjs';
import { createModel, type ExperimentModel } from '../models/create-model.js';
import { initializeLikePyTorch } from '../models/initialize.js';
import { checkpointFile, hasCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { failpoint } from './failpoint.js';
import { settingDifferences } from './run-settings.js';
import { DataParallel, type Communicator } from 'eva-tfjs/distributed';

/** Per-epoch record of a run. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  /** Null without test samples (an empty test set). */
  testLoss: number | null;
  /** Classification only. */
  trainAccuracy?: number;
  /** Classification only; null without test samples. */
  testAccuracy?: number | null;
  /** Wall-clock seconds of training since the start of the run (evaluation excluded). */
  seconds: number;
  /**
   * CPU seconds (user + system) this process spent training since the start of the run
   * (evaluation excluded; rank 0's in a data-parallel run, its waits in the allreduce included).
   * Unlike {@link seconds} it hardly grows when other processes share the cores (only through
   * caches and memory bandwidth). Absent when the run was resumed from a checkpoint whose
   * records predate it.
   */
  cpuSeconds?: number;
  /**
   * Steps of this epoch the optimizer skipped for non-finite gradients or statistics (absent in
   * records of older checkpoints).
   */
  skippedSteps?: number;
  /**
   * The factor the optimizer scaled its preconditioned directions by at each step of this epoch
   * (its `lastScale`: Eva's and K-FAC's KL clipping factor, Eva-f's and FOOF's KL
   * normalisation), summarised; absent for optimizers without one (first-order and tensor-wise
   * ones, clipping off) and in records of older checkpoints. Rank 0's in a data-parallel run
   * (the factor is the same on every rank).
   */
  scale?: ScaleSummary;
}

/** A summary of the per-step scaling factors of an epoch (see {@link EpochRecord.scale}). */
export interface ScaleSummary {
  /** Mean factor over the steps that had one. */
  mean: number;
  /** Smallest factor. */
  min: number;
  /**
   * Fraction of those steps whose factor was below 1: with KL clipping at a positive threshold,
   * the steps where the clip bound (for `klClip: 0` and KL normalisation it is no clip).
   */
  belowOne: number;
  /** Steps that had a factor. */
  steps: number;
}

/** What {@link runTraining} needs. */
export interface RunConfig {
  /** Model name (see `createModel`; default 'autoencoder'). */
  model?: string;
  optimizer: string;
  optimizerOptions: RegistryOptions;
  epochs: number;
  batchSize: number;
  seed: number;
  /** Warm-up epochs before the decay (default 0). */
  warmupEpochs?: number;
  /** Decay after warm-up (default linear to 0 over the run, as the reference). */
  decay?: DecayKind;
  /** Called after every batch with the running loss. */
  onBatch?: (epoch: number, batch: number, loss: number) => void;
  /** Called after every epoch. */
  onEpoch?: (record: EpochRecord) => void;
  /**
   * Called on the rank that writes (rank 0) with every epoch record the checkpoint holds: after
   * each checkpoint is published, and after a resume with the restored records (so a log
   * written from them always equals the checkpoint's).
   */
  onCheckpoint?: (epochs: readonly EpochRecord[]) => void;
  /** Save a checkpoint to this directory after every epoch. */
  checkpointDir?: string;
  /** Continue from the checkpoint in `checkpointDir` (an error when there is none). */
  resume?: boolean;
  /**
   * Data-parallel training over these ranks: `batchSize` is the global batch, split evenly;
   * each epoch uses the whole global batches of the seeded permutation; only rank 0 writes
   * checkpoints.
   */
  communicator?: Communicator;
}

/** The result of a run. */
export interface RunResult {
  model: string;
  dataset: string;
  optimizer: string;
  learningRate: number;
  optimizerOptions: RegistryOptions;
  task: ExperimentModel['task'];
  epochs: EpochRecord[];
  /** Steps skipped for non-finite gradients or statistics, over every epoch of the run. */
  skippedSteps: number;
  /** Epoch the run resumed after (0 when it started fresh). */
  resumedAfter: number;
  /**
   * Set when training diverged (see {@link RunDiverged}): the epoch and why. `epochs` then holds
   * the records before that epoch. Absent when every epoch trained.
   */
  diverged?: { epoch: number; reason: string };
}

/**
 * Thrown by {@link runTraining} when an epoch diverged (all its steps skipped, a non-finite
 * loss, or non-finite weights or optimizer state). `result` holds the epochs before it and
 * `diverged`; `settings` identify the run (as a checkpoint's do), so commands that train several
 * runs can keep a diverged run as a result and recognise it on `--resume`.
 */
export class RunDiverged extends Error {
  constructor(
    message: string,
    readonly result: RunResult & { diverged: { epoch: number; reason: string } },
    readonly settings: RunSettings,
  ) {
    super(message);
    this.name = 'RunDiverged';
  }
}

/** The settings a checkpoint (or a diverged run's record) must match to be resumed. */
export type RunSettings = ReturnType<typeof identity>;

/** The settings a checkpoint must match to be resumed. */
function identity(data: Dataset, config: RunConfig, model: string) {
  return {
    model,
    dataset: data.name,
    trainCount: data.train.count,
    optimizer: config.optimizer,
    optimizerOptions: JSON.parse(JSON.stringify(config.optimizerOptions)) as unknown,
    epochs: config.epochs,
    batchSize: config.batchSize,
    seed: config.seed,
    warmupEpochs: config.warmupEpochs ?? 0,
    decay: config.decay ?? 'linear',
  };
}

/** The settings that identify a run of `config` on `data` (what `--resume` checks). */
export function runSettings(data: Dataset, config: RunConfig): RunSettings {
  return identity(data, config, config.model ?? 'autoencoder');
}

/**
 * The sample order of one rank for one epoch: the first `steps` global batches of
 * `permutation`, each split evenly across the ranks (single process: the permutation).
 */
export function shardOrder(
  permutation: Int32Array,
  steps: number,
  globalBatch: number,
  rank: number,
  ranks: number,
): Int32Array {
  if (ranks === 1) return permutation;
  const local = globalBatch / ranks;
  const order = new Int32Array(steps * local);
  for (let step = 0; step < steps; step++) {
    const start = step * globalBatch + rank * local;
    order.set(permutation.subarray(start, start + local), step * local);
  }
  return order;
}

/** The mean of a per-rank scalar over all ranks (the value itself for one process). */
function rankAverage(communicator: Communicator | undefined, value: number): number {
  if (communicator == null || communicator.size === 1) return value;
  const buffer = new Float32Array([value]);
  communicator.allreduceSum(buffer);
  return buffer[0]! / communicator.size;
}

/** What the phases of a run share once the configuration is checked. */
interface RunPlan {
  config: RunConfig;
  data: Dataset;
  modelName: string;
  communicator: Communicator | undefined;
  rank: number;
  ranks: number;
  /** Samples per rank and step. */
  localBatch: number;
  stepsPerEpoch: number;
  /** The learning rate at each (0-based) step. */
  schedule: (step: number) => number;
  /** What a checkpoint must match to be resumed. */
  settings: ReturnType<typeof identity>;
}

/** Checks `config` against `data` and works out the steps and the schedule. */
function validate(data: Dataset, config: RunConfig): RunPlan {
  const modelName = config.model ?? 'autoencoder';
  if (!Number.isInteger(config.batchSize) || config.batchSize < 1) {
    throw new Error(`runTraining: batchSize must be a positive integer, got ${config.batchSize}`);
  }
  if (!Number.isInteger(config.epochs) || config.epochs < 1) {
    throw new Error(`runTraining: epochs must be a positive integer, got ${config.epochs}`);
  }
  const warmup = config.warmupEpochs ?? 0;
  if (!(warmup >= 0 && warmup < config.epochs)) {
    throw new Error(
      `runTraining: warm-up epochs (${warmup}) must be in [0, epochs = ${config.epochs})`,
    );
  }
  if (config.resume && config.checkpointDir == null) {
    throw new Error('runTraining: resume needs a checkpoint directory');
  }
  const communicator = config.communicator;
  const ranks = communicator?.size ?? 1;
  if (config.batchSize % ranks !== 0) {
    throw new Error(
      `runTraining: the global batch size ${config.batchSize} must be divisible by the ${ranks} ranks`,
    );
  }
  const stepsPerEpoch =
    ranks === 1
      ? Math.ceil(data.train.count / config.batchSize)
      : Math.floor(data.train.count / config.batchSize);
  if (stepsPerEpoch < 1) {
    throw new Error(
      `runTraining: ${data.train.count} training samples are fewer than one global batch`,
    );
  }
  const schedule = warmupDecaySchedule({
    learningRate: config.optimizerOptions.learningRate,
    totalSteps: stepsPerEpoch * config.epochs,
    warmupSteps: stepsPerEpoch * warmup,
    decay: config.decay ?? 'linear',
  });
  return {
    config,
    data,
    modelName,
    communicator,
    rank: communicator?.rank ?? 0,
    ranks,
    localBatch: config.batchSize / ranks,
    stepsPerEpoch,
    schedule,
    settings: identity(data, config, modelName),
  };
}

/** The data as tensors in the model's input layout (targets: one-hot labels or the inputs). */
interface RunTensors {
  xTrain: tf.Tensor;
  yTrain: tf.Tensor;
  xTest: tf.Tensor;
  yTest: tf.Tensor;
}

function createTensors(
  data: Dataset,
  input: ExperimentModel['input'],
  task: ExperimentModel['task'],
): RunTensors {
  const shape = (count: number) =>
    input === 'flat'
      ? [count, data.height * data.width * data.channels]
      : [count, data.height, data.width, data.channels];
  const xTrain = tf.tensor(data.train.images, shape(data.train.count));
  const xTest = tf.tensor(data.test.images, shape(data.test.count));
  const labels = (set: Dataset['train']) =>
    tf.tidy(() => tf.oneHot(tf.tensor1d(set.labels, 'int32'), data.classes).toFloat());
  const yTrain = task === 'classification' ? labels(data.train) : xTrain;
  const yTest = task === 'classification' ? labels(data.test) : xTest;
  return { xTrain, yTrain, xTest, yTest };
}

function disposeTensors({ xTrain, yTrain, xTest, yTest }: RunTensors): void {
  tf.dispose([xTrain, xTest]);
  if (yTrain !== xTrain) yTrain.dispose();
  if (yTest !== xTest) yTest.dispose();
}

/**
 * The optimizer of the run (wrapped for data-parallel training), and the model compiled with
 * it. `parallel` is the wrapper, null for a single process.
 */
function compile(
  plan: RunPlan,
  model: tf.LayersModel,
  task: ExperimentModel['task'],
): { optimizer: tf.Optimizer; parallel: DataParallel | null } {
  const inner = createOptimizerByName(plan.config.optimizer, model, plan.config.optimizerOptions);
  const parallel = plan.communicator != null ? new DataParallel(inner, plan.communicator) : null;
  const optimizer = parallel ?? inner;
  try {
    model.compile({
      optimizer,
      loss: task === 'classification' ? 'categoricalCrossentropy' : 'meanSquaredError',
      metrics: task === 'classification' ? ['accuracy'] : [],
    });
  } catch (e) {
    optimizer.dispose();
    throw e;
  }
  return { optimizer, parallel };
}

/**
 * With `config.resume`: loads the checkpoint in `config.checkpointDir` (none there is an error),
 * checks that it is of this run (each differing setting is named), loads the model and
 * optimizer weights, and returns its epochs (none without `resume`).
 */
async function restore(
  plan: RunPlan,
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
): Promise<EpochRecord[]> {
  const { config, settings } = plan;
  if (!config.resume) return [];
  const checkpoint = loadCheckpoint(config.checkpointDir!);
  try {
    const saved = (checkpoint.meta.settings ?? {}) as Record<string, unknown>;
    const differences = settingDifferences(saved, settings);
    if (differences.length > 0) {
      throw new Error(
        `The checkpoint in ${config.checkpointDir} is of another run (${differences.join('; ')}); ` +
          'resume with the same settings, or start afresh without --resume (or in another --out)',
      );
    }
    model.setWeights(checkpoint.modelWeights);
    await optimizer.setWeights(checkpoint.optimizerWeights);
    return [...(checkpoint.meta.epochs as EpochRecord[])];
  } finally {
    tf.dispose([...checkpoint.modelWeights, ...checkpoint.optimizerWeights.map((w) => w.tensor)]);
  }
}

/**
 * One epoch of `model.fit` on this rank's share of the epoch's seeded permutation, the
 * schedule setting the learning rate before every batch. Returns fit's history and the wall
 * and CPU time of the training.
 */
async function trainEpoch(
  plan: RunPlan,
  epoch: number,
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  tensors: RunTensors,
  task: ExperimentModel['task'],
  inner: tf.Optimizer,
): Promise<{
  history: tf.History;
  seconds: number;
  cpuSeconds: number;
  scale: ScaleSummary | undefined;
}> {
  const { config, data, stepsPerEpoch } = plan;
  const order = tf.tensor1d(
    shardOrder(
      seededPermutation(data.train.count, config.seed * 1000 + epoch),
      stepsPerEpoch,
      config.batchSize,
      plan.rank,
      plan.ranks,
    ),
    'int32',
  );
  const x = tf.gather(tensors.xTrain, order);
  const y = task === 'classification' ? tf.gather(tensors.yTrain, order) : x;
  order.dispose();
  const scales: number[] = [];
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  try {
    const history = await model.fit(x, y, {
      batchSize: plan.localBatch,
      epochs: 1,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onBatchBegin: async (batch) => {
          setLearningRate(optimizer, plan.schedule((epoch - 1) * stepsPerEpoch + batch));
        },
        onBatchEnd: async (batch, logs) => {
          // A diagnostic read between steps; fit has just read the loss, so it does not stall.
          const scale = lastScale(inner);
          if (scale != null) scales.push((await scale.data())[0]!);
          config.onBatch?.(epoch, batch, logs?.loss ?? NaN);
        },
      },
    });
    const cpu = process.cpuUsage(cpuStart);
    return {
      history,
      seconds: (performance.now() - start) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      scale: summarizeScales(scales),
    };
  } finally {
    x.dispose();
    if (y !== x) y.dispose();
  }
}

/** The optimizer's scaling factor of its last step, when it has one (see `lastScale`). */
function lastScale(optimizer: tf.Optimizer): tf.Scalar | null {
  const scale = (optimizer as { lastScale?: unknown }).lastScale;
  if (!(scale instanceof tf.Tensor)) return null;
  if (scale.isDisposed) {
    throw new Error(`${optimizer.getClassName()}: lastScale was disposed before it was read`);
  }
  return scale as tf.Scalar;
}

/** Mean, minimum and clipped fraction of an epoch's factors; undefined when there are none. */
export function summarizeScales(scales: readonly number[]): ScaleSummary | undefined {
  if (scales.length === 0) return undefined;
  return {
    mean: scales.reduce((sum, v) => sum + v, 0) / scales.length,
    min: scales.reduce((min, v) => Math.min(min, v), Infinity),
    belowOne: scales.filter((v) => v < 1).length / scales.length,
    steps: scales.length,
  };
}

/** Test metrics of an epoch: null without test samples. */
interface TestMetrics {
  testLoss: number | null;
  testAccuracy: number | null | undefined;
}

/** Test loss (and accuracy for classifiers) of `model`; null for an empty test set. */
async function evaluate(model: tf.LayersModel, tensors: RunTensors): Promise<TestMetrics> {
  if (tensors.xTest.shape[0] === 0) return { testLoss: null, testAccuracy: null };
  const evaluation = model.evaluate(tensors.xTest, tensors.yTest, { batchSize: 500 });
  const [testLoss, testAccuracy] = await Promise.all(
    (Array.isArray(evaluation) ? evaluation : [evaluation]).map(async (t) => {
      const v = (await t.data())[0]!;
      t.dispose();
      return v;
    }),
  );
  return { testLoss: testLoss!, testAccuracy };
}

/** The record of one epoch: train metrics averaged over the ranks, test metrics. */
function epochRecord(
  plan: RunPlan,
  epoch: number,
  history: tf.History,
  test: TestMetrics,
  time: { seconds: number; cpuSeconds: number | undefined },
  skippedSteps: number,
  task: ExperimentModel['task'],
): EpochRecord {
  const record: EpochRecord = {
    epoch,
    trainLoss: rankAverage(plan.communicator, history.history.loss![0] as number),
    testLoss: test.testLoss,
    seconds: time.seconds,
  };
  if (time.cpuSeconds !== undefined) record.cpuSeconds = time.cpuSeconds;
  if (task === 'classification') {
    const acc = history.history.acc ?? history.history.accuracy;
    record.trainAccuracy = rankAverage(plan.communicator, acc?.[0] as number);
    record.testAccuracy = test.testAccuracy ?? null;
  }
  record.skippedSteps = skippedSteps;
  return record;
}

/** How many values of the float tensors in `tensors` are NaN or infinite (one host read). */
function nonFiniteCount(tensors: readonly tf.Tensor[]): number {
  const floats = tensors.filter((t) => t.dtype === 'float32' && t.size > 0);
  if (floats.length === 0) return 0;
  const count = tf.tidy(() =>
    tf.addN(floats.map((t) => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(t)), 'int32')))),
  );
  const value = count.dataSync()[0]!;
  count.dispose();
  return value;
}

/** What a failed run leaves to resume from, for its error message. */
function keptCheckpoint(plan: RunPlan): string {
  const dir = plan.config.checkpointDir;
  if (dir == null) return '';
  return hasCheckpoint(dir)
    ? `; the last good checkpoint, ${checkpointFile(dir)}, is kept as it was`
    : '; no checkpoint was written';
}

/**
 * Throws when epoch `record.epoch` diverged: every step skipped for non-finite gradients, a
 * non-finite train or test loss, or non-finite model weights or optimizer state (checked before
 * any checkpoint of them is written).
 */
async function checkFinite(
  plan: RunPlan,
  record: EpochRecord,
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
): Promise<void> {
  const { epoch } = record;
  const advice = 'the run diverged: lower the learning rate' + keptCheckpoint(plan);
  const skipped = record.skippedSteps ?? 0;
  if (skipped >= plan.stepsPerEpoch) {
    throw new Error(
      `Epoch ${epoch}: all ${plan.stepsPerEpoch} steps had non-finite gradients or statistics ` +
        `and were skipped; ${advice}`,
    );
  }
  if (!Number.isFinite(record.trainLoss)) {
    throw new Error(
      `Epoch ${epoch}: the train loss is ${record.trainLoss} (${skipped} of ` +
        `${plan.stepsPerEpoch} steps skipped); ${advice}`,
    );
  }
  const weights = nonFiniteCount(model.getWeights());
  const state = await optimizer.getWeights();
  let stateCount: number;
  try {
    stateCount = nonFiniteCount(state.map((w) => w.tensor));
  } finally {
    disposeIterationCounters(state);
  }
  if (weights > 0 || stateCount > 0) {
    const what = [
      weights > 0 ? `${weights} model weights` : '',
      stateCount > 0 ? `${stateCount} values of the optimizer state` : '',
    ]
      .filter(Boolean)
      .join(' and ');
    throw new Error(`Epoch ${epoch}: ${what} are NaN or infinite (not checkpointed); ${advice}`);
  }
  if (record.testLoss != null && !Number.isFinite(record.testLoss)) {
    throw new Error(
      `Epoch ${epoch}: the test loss is ${record.testLoss} (the model's outputs overflow); ${advice}`,
    );
  }
}

/**
 * Saves the model, the optimizer and the epochs so far (rank 0, with a checkpoint directory),
 * then tells `onCheckpoint`.
 */
async function checkpoint(
  plan: RunPlan,
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  epochs: EpochRecord[],
): Promise<void> {
  if (plan.config.checkpointDir == null || plan.rank !== 0) return;
  const optimizerWeights = await optimizer.getWeights();
  try {
    await saveCheckpoint(
      plan.config.checkpointDir,
      { settings: plan.settings, epochs },
      model.getWeights(),
      optimizerWeights,
    );
  } finally {
    disposeIterationCounters(optimizerWeights);
  }
  failpoint('checkpoint-published');
  plan.config.onCheckpoint?.(epochs);
}

/** The steps `optimizer` (the inner one of a data-parallel wrapper) skipped so far. */
function skippedSoFar(optimizer: tf.Optimizer): number {
  const skipped = (optimizer as { skippedSteps?: unknown }).skippedSteps;
  return typeof skipped === 'number' ? skipped : 0;
}

/**
 * Checks `config` against `data` without training, throwing what {@link runTraining} would
 * before its first step: the settings, then the model and the optimizer built once (catching
 * what only building sees, e.g. Nesterov without momentum) and disposed.
 */
export function checkRun(data: Dataset, config: RunConfig): void {
  const plan = validate(data, config);
  const { model } = createModel(plan.modelName, data);
  try {
    createOptimizerByName(config.optimizer, model, config.optimizerOptions).dispose();
  } finally {
    model.dispose();
  }
}

/**
 * Trains `config.model` on `data` and returns its history: validate, build and compile,
 * restore (with `resume`), then per epoch train, evaluate and checkpoint.
 */
export async function runTraining(data: Dataset, config: RunConfig): Promise<RunResult> {
  const plan = validate(data, config);
  const { model, task, input } = createModel(plan.modelName, data);
  initializeLikePyTorch(model, config.seed);
  const tensors = createTensors(data, input, task);
  let optimizer: tf.Optimizer | null = null;
  try {
    const compiled = compile(plan, model, task);
    optimizer = compiled.optimizer;
    const inner = compiled.parallel?.inner ?? optimizer;
    const epochs = await restore(plan, model, optimizer);
    const resumedAfter = epochs.length;
    if (config.resume && plan.rank === 0) config.onCheckpoint?.(epochs);
    if (compiled.parallel != null) await compiled.parallel.synchronize(model);
    const result = (records: EpochRecord[]): RunResult => ({
      model: plan.modelName,
      dataset: data.name,
      optimizer: config.optimizer,
      learningRate: config.optimizerOptions.learningRate,
      optimizerOptions: config.optimizerOptions,
      task,
      epochs: records,
      skippedSteps: records.reduce((sum, e) => sum + (e.skippedSteps ?? 0), 0),
      resumedAfter,
    });
    let seconds = epochs.at(-1)?.seconds ?? 0;
    // A run resumed from records without CPU times has no CPU time since its start.
    let cpuSeconds = epochs.length === 0 ? 0 : epochs.at(-1)!.cpuSeconds;
    for (let epoch = resumedAfter + 1; epoch <= config.epochs; epoch++) {
      const skippedBefore = skippedSoFar(inner);
      const trained = await trainEpoch(plan, epoch, model, optimizer, tensors, task, inner);
      seconds += trained.seconds;
      if (cpuSeconds !== undefined) cpuSeconds += trained.cpuSeconds;
      const skipped = skippedSoFar(inner) - skippedBefore;
      const test = await evaluate(model, tensors);
      const time = { seconds, cpuSeconds };
      const record = epochRecord(plan, epoch, trained.history, test, time, skipped, task);
      if (trained.scale != null) record.scale = trained.scale;
      try {
        await checkFinite(plan, record, model, optimizer);
      } catch (e) {
        const reason = (e as Error).message;
        const diverged = { epoch, reason };
        // The diverging epoch is not kept, but the steps it skipped count.
        const before = result(epochs);
        const skippedSteps = before.skippedSteps + skipped;
        throw new RunDiverged(reason, { ...before, skippedSteps, diverged }, plan.settings);
      }
      epochs.push(record);
      config.onEpoch?.(record);
      await checkpoint(plan, model, optimizer, epochs);
    }
    return result(epochs);
  } finally {
    disposeTensors(tensors);
    model.dispose();
    optimizer?.dispose();
  }
}
