/**
 * One training run of a model on a dataset with one optimizer from the registry, through
 * `model.fit` (one call per epoch on a seeded permutation of the training set), recording
 * per-epoch train and test loss and wall time.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { seededPermutation } from '../data/random.js';
import { createOptimizer, type RegistryOptions } from '../optimizer/registry.js';
import { createAutoencoder } from '../models/autoencoder.js';
import { setLearningRate, warmupDecaySchedule, type DecayKind } from '../optimizer/schedule.js';

/** Per-epoch record of a run. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  testLoss: number;
  /** Wall-clock seconds since the start of training (evaluation excluded). */
  seconds: number;
}

/** What {@link trainAutoencoder} needs. */
export interface RunConfig {
  optimizer: string;
  optimizerOptions: RegistryOptions;
  epochs: number;
  batchSize: number;
  seed: number;
  /** Warm-up epochs of the linear-decay schedule (0: constant learning rate). */
  warmupEpochs?: number;
  /** Decay after warm-up (default linear to 0 over the run, as the reference). */
  decay?: DecayKind;
  /** Called after every batch with the running loss. */
  onBatch?: (epoch: number, batch: number, loss: number) => void;
  /** Called after every epoch. */
  onEpoch?: (record: EpochRecord) => void;
}

/** The result of a run. */
export interface RunResult {
  optimizer: string;
  learningRate: number;
  epochs: EpochRecord[];
  skippedSteps: number;
}

/** Trains the paper's autoencoder (MSE reconstruction) on `data` and returns its history. */
export async function trainAutoencoder(data: Dataset, config: RunConfig): Promise<RunResult> {
  const pixels = data.height * data.width * data.channels;
  if (!Number.isInteger(config.batchSize) || config.batchSize < 1) {
    throw new Error(
      `trainAutoencoder: batchSize must be a positive integer, got ${config.batchSize}`,
    );
  }
  const stepsPerEpoch = Math.ceil(data.train.count / config.batchSize);
  const schedule = warmupDecaySchedule({
    learningRate: config.optimizerOptions.learningRate,
    totalSteps: stepsPerEpoch * config.epochs,
    warmupSteps: stepsPerEpoch * (config.warmupEpochs ?? 0),
    decay: config.decay ?? 'linear',
  });
  const model = createAutoencoder(pixels);
  initializeLikePyTorch(model, config.seed);
  let optimizer: tf.Optimizer | null = null;
  const xTrain = tf.tensor2d(data.train.images, [data.train.count, pixels]);
  const xTest = tf.tensor2d(data.test.images, [data.test.count, pixels]);
  const epochs: EpochRecord[] = [];
  let seconds = 0;
  try {
    const opt = createOptimizer(config.optimizer, model, config.optimizerOptions);
    optimizer = opt;
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    for (let epoch = 1; epoch <= config.epochs; epoch++) {
      const order = seededPermutation(data.train.count, config.seed * 1000 + epoch);
      const shuffled = tf.tidy(() => tf.gather(xTrain, tf.tensor1d(order, 'int32')));
      const start = performance.now();
      const history = await model.fit(shuffled, shuffled, {
        batchSize: config.batchSize,
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
      seconds += (performance.now() - start) / 1000;
      shuffled.dispose();
      const testLoss = tf.tidy(
        () => model.evaluate(xTest, xTest, { batchSize: 1000 }) as tf.Scalar,
      );
      const record: EpochRecord = {
        epoch,
        trainLoss: history.history.loss![0] as number,
        testLoss: (await testLoss.data())[0]!,
        seconds,
      };
      testLoss.dispose();
      epochs.push(record);
      config.onEpoch?.(record);
    }
    return {
      optimizer: config.optimizer,
      learningRate: config.optimizerOptions.learningRate,
      epochs,
      skippedSteps: (opt as { skippedSteps?: number }).skippedSteps ?? 0,
    };
  } finally {
    xTrain.dispose();
    xTest.dispose();
    model.dispose();
    optimizer?.dispose();
  }
}

/**
 * Seeded initialisation with PyTorch's `nn.Linear` default (what the reference runs use):
 * kernel and bias uniform in `+-1/sqrt(fanIn)`. Same seed, same weights for every optimizer.
 */
export function initializeLikePyTorch(model: tf.LayersModel, seed: number): void {
  tf.tidy(() => {
    const weights = model.getWeights();
    let fanIn = 1;
    model.setWeights(
      weights.map((w, i) => {
        if (w.shape.length >= 2) fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
        const bound = 1 / Math.sqrt(fanIn);
        return tf.randomUniform(w.shape, -bound, bound, 'float32', seed * 7919 + i);
      }),
    );
  });
}
