/**
 * One training run: a model of the experiments on a dataset with one optimizer from the
 * registry, through `model.fit` (one call per epoch on a seeded permutation of the training
 * set), with the warm-up/decay schedule driving the learning rate, per-epoch train and test
 * metrics and wall time, and optional checkpoints after every epoch to resume from.
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
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { DataParallel, type Communicator } from 'eva-tfjs/distributed';

/** Per-epoch record of a run. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  testLoss: number;
  /** Classification only. */
  trainAccuracy?: number;
  testAccuracy?: number;
  /** Wall-clock seconds of training since the start of the run (evaluation excluded). */
  seconds: number;
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
  /** Save a checkpoint to this directory after every epoch. */
  checkpointDir?: string;
  /** Continue from the checkpoint in `checkpointDir` when there is one. */
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
  skippedSteps: number;
  /** Epoch the run resumed after (0 when it started fresh). */
  resumedAfter: number;
}

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

/** Trains `config.model` on `data` and returns its history. */
export async function runTraining(data: Dataset, config: RunConfig): Promise<RunResult> {
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
  const localBatch = config.batchSize / ranks;
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
    warmupSteps: stepsPerEpoch * (config.warmupEpochs ?? 0),
    decay: config.decay ?? 'linear',
  });
  const { model, task, input } = createModel(modelName, data);
  initializeLikePyTorch(model, config.seed);
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
  const epochs: EpochRecord[] = [];
  const settings = identity(data, config, modelName);
  let optimizer: tf.Optimizer | null = null;
  try {
    const inner = createOptimizerByName(config.optimizer, model, config.optimizerOptions);
    const parallel = communicator != null ? new DataParallel(inner, communicator) : null;
    const opt = parallel ?? inner;
    optimizer = opt;
    model.compile({
      optimizer: opt,
      loss: task === 'classification' ? 'categoricalCrossentropy' : 'meanSquaredError',
      metrics: task === 'classification' ? ['accuracy'] : [],
    });
    let resumedAfter = 0;
    if (config.resume && hasCheckpoint(config.checkpointDir!)) {
      const checkpoint = loadCheckpoint(config.checkpointDir!);
      try {
        const saved = JSON.stringify(checkpoint.meta.settings);
        if (saved !== JSON.stringify(settings)) {
          throw new Error(
            `The checkpoint in ${config.checkpointDir} is of another run: saved ${saved}, ` +
              `requested ${JSON.stringify(settings)}`,
          );
        }
        model.setWeights(checkpoint.modelWeights);
        await opt.setWeights(checkpoint.optimizerWeights);
        epochs.push(...(checkpoint.meta.epochs as EpochRecord[]));
        resumedAfter = epochs.length;
      } finally {
        tf.dispose([
          ...checkpoint.modelWeights,
          ...checkpoint.optimizerWeights.map((w) => w.tensor),
        ]);
      }
    }
    if (parallel != null) await parallel.synchronize(model);
    let seconds = epochs.at(-1)?.seconds ?? 0;
    for (let epoch = resumedAfter + 1; epoch <= config.epochs; epoch++) {
      const order = tf.tensor1d(
        shardOrder(
          seededPermutation(data.train.count, config.seed * 1000 + epoch),
          stepsPerEpoch,
          config.batchSize,
          communicator?.rank ?? 0,
          ranks,
        ),
        'int32',
      );
      const x = tf.gather(xTrain, order);
      const y = task === 'classification' ? tf.gather(yTrain, order) : x;
      order.dispose();
      const start = performance.now();
      let history: tf.History;
      try {
        history = await model.fit(x, y, {
          batchSize: localBatch,
          epochs: 1,
          shuffle: false,
          verbose: 0,
          callbacks: {
            onBatchBegin: async (batch) => {
              setLearningRate(opt, schedule((epoch - 1) * stepsPerEpoch + batch));
            },
            onBatchEnd: async (batch, logs) => config.onBatch?.(epoch, batch, logs?.loss ?? NaN),
          },
        });
      } finally {
        x.dispose();
        if (y !== x) y.dispose();
      }
      seconds += (performance.now() - start) / 1000;
      const evaluation = model.evaluate(xTest, yTest, { batchSize: 500 });
      const [testLoss, testAccuracy] = await Promise.all(
        (Array.isArray(evaluation) ? evaluation : [evaluation]).map(async (t) => {
          const v = (await t.data())[0]!;
          t.dispose();
          return v;
        }),
      );
      const record: EpochRecord = {
        epoch,
        trainLoss: rankAverage(communicator, history.history.loss![0] as number),
        testLoss: testLoss!,
        seconds,
      };
      if (task === 'classification') {
        const acc = history.history.acc ?? history.history.accuracy;
        record.trainAccuracy = rankAverage(communicator, acc?.[0] as number);
        record.testAccuracy = testAccuracy;
      }
      epochs.push(record);
      config.onEpoch?.(record);
      if (config.checkpointDir != null && (communicator?.rank ?? 0) === 0) {
        const optimizerWeights = await opt.getWeights();
        try {
          await saveCheckpoint(
            config.checkpointDir,
            { settings, epochs },
            model.getWeights(),
            optimizerWeights,
          );
        } finally {
          disposeIterationCounters(optimizerWeights);
        }
      }
    }
    return {
      model: modelName,
      dataset: data.name,
      optimizer: config.optimizer,
      learningRate: config.optimizerOptions.learningRate,
      optimizerOptions: config.optimizerOptions,
      task,
      epochs,
      skippedSteps: (opt as { skippedSteps?: number }).skippedSteps ?? 0,
      resumedAfter,
    };
  } finally {
    tf.dispose([xTrain, xTest]);
    if (yTrain !== xTrain) yTrain.dispose();
    if (yTest !== xTest) yTest.dispose();
    model.dispose();
    optimizer?.dispose();
  }
}
