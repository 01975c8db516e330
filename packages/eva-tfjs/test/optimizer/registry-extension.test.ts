/**
 * An algorithm added from outside the package, through the public API only (imports by package
 * name): "Eva with a different vector" registered with `registerOptimizer` is listed by the
 * registry with its own option, built by name, trains in `model.fit`, and saves and re-attaches
 * like the built-in optimizers. (The command line's side is tested in @eva-tfjs/experiments.)
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  activationMean,
  attachOptimizer,
  createOptimizerByName,
  CURVATURE_OPTIONS,
  defineOptions,
  evaAlgorithm,
  KL_CLIP_OPTION,
  optimizerEntry,
  optimizerNames,
  optimizerOptionNames,
  positive,
  registerOptimizer,
  type LayerwiseAlgorithm,
  type StateSlots,
} from 'eva-tfjs';
import { createAutoencoder, initializeLikePyTorch } from '@eva-tfjs/experiments';
import { randomTensor, useCpu } from '../helpers.js';

before(useCpu);

const options = defineOptions({
  ...CURVATURE_OPTIONS,
  ...KL_CLIP_OPTION,
  gradientScale: {
    kind: 'number',
    default: 1,
    constraint: positive,
    description: 'multiplies the running gradient vector',
  },
});

/**
 * Eva whose gradient vector is the running mean of |dy| instead of dy (a toy "different
 * vector"), scaled by its own option.
 */
const evaAbs: LayerwiseAlgorithm<typeof options, StateSlots> = {
  ...evaAlgorithm,
  name: 'EvaAbsToy',
  options,
  statistics: {
    activation: activationMean,
    gradient: (dy, geometry) =>
      tf.tidy(() => tf.mean(tf.reshape(tf.abs(dy), [-1, geometry.outFeatures]), 0)),
    gradientDegree: 1,
  },
  updateStatistics(state, layer, statistics, step) {
    const scaled = tf.mul(statistics.gradient, step.gradientScale);
    evaAlgorithm.updateStatistics(state, layer, { ...statistics, gradient: scaled }, step);
    scaled.dispose();
  },
};

registerOptimizer({
  name: 'eva-abs',
  description: 'Eva with the running mean |dy| as its gradient vector (a test toy)',
  algorithm: evaAbs,
  testing: { learningRate: 0.05 },
});

function model(): tf.Sequential {
  const m = createAutoencoder(12, [8, 3, 8]);
  initializeLikePyTorch(m, 4);
  return m;
}

test('a registered algorithm is listed with its own option, and bad options name it', () => {
  assert.ok(optimizerNames().includes('eva-abs'));
  assert.ok(optimizerOptionNames('eva-abs').includes('gradientScale'));
  assert.equal(optimizerEntry('eva-abs').options.gradientScale?.kind, 'number');
  const m = model();
  assert.throws(
    () => createOptimizerByName('eva-abs', m, { learningRate: 0.1, gradientScale: -1 }),
    /EvaAbsToy: Option 'gradientScale' must be > 0/,
  );
  assert.throws(
    () => createOptimizerByName('eva-abs', m, { learningRate: 0.1, gradientScal: 1 }),
    /unknown option 'gradientScal'; valid options are .*gradientScale/,
  );
  assert.throws(
    () =>
      registerOptimizer({
        name: 'eva-abs',
        description: '',
        algorithm: evaAbs,
        testing: { learningRate: 1 },
      }),
    /'eva-abs' is already registered/,
  );
  assert.throws(
    () =>
      registerOptimizer({
        name: 'eva-clash',
        description: '',
        algorithm: { ...evaAbs, name: 'Eva' },
        testing: { learningRate: 1 },
      }),
    /the algorithm name 'Eva' is already a registered tfjs class/,
  );
  m.dispose();
});

test('a registered algorithm trains in model.fit, its option takes effect, no leaks', async () => {
  const x = tf.matMul(randomTensor([48, 3], 1), randomTensor([3, 12], 2));
  const lastLoss = async (gradientScale: number) => {
    const m = model();
    const opt = createOptimizerByName('eva-abs', m, { learningRate: 0.05, gradientScale });
    assert.equal(opt.getClassName(), 'EvaAbsToy');
    m.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const first = await m.fit(x, x, { batchSize: 16, epochs: 1, verbose: 0, shuffle: false });
    const tensors = tf.memory().numTensors;
    const rest = await m.fit(x, x, { batchSize: 16, epochs: 10, verbose: 0, shuffle: false });
    assert.equal(tf.memory().numTensors, tensors, 'steady state: no tensor growth');
    const losses = [first.history.loss![0] as number, ...(rest.history.loss as number[])];
    assert.ok(losses.every(Number.isFinite));
    assert.ok(losses.at(-1)! < 0.8 * losses[0]!, `loss ${losses[0]} -> ${losses.at(-1)}`);
    opt.dispose();
    m.dispose();
    return losses.at(-1)!;
  };
  const plain = await lastLoss(1);
  const scaled = await lastLoss(4);
  assert.notEqual(plain, scaled, 'gradientScale changes the trajectory');
  x.dispose();
});

test('a registered algorithm saves with the model and re-attaches', async () => {
  const x = randomTensor([32, 12], 5);
  const m = model();
  const opt = createOptimizerByName('eva-abs', m, { learningRate: 0.05, gradientScale: 2 });
  m.compile({ optimizer: opt, loss: 'meanSquaredError' });
  await m.fit(x, x, { batchSize: 16, epochs: 1, verbose: 0, shuffle: false });
  let saved: tf.io.ModelArtifacts | null = null;
  await m.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
  const attached = await attachOptimizer(loaded);
  assert.equal(attached.getClassName(), 'EvaAbsToy');
  assert.equal(attached.iterations, 2);
  await loaded.fit(x, x, { batchSize: 16, epochs: 1, verbose: 0, shuffle: false });
  for (const each of [m, loaded]) {
    each.optimizer.dispose();
    each.dispose();
  }
  x.dispose();
});
