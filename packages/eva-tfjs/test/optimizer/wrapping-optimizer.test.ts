/**
 * The step pipeline, through Eva as a tfjs optimizer: model.fit integration, exact resume
 * through getWeights/setWeights, no tensor leaks, non-finite steps, every bad-input path, the
 * learning rate KL clipping reads, and the statistics and inverse intervals of K-FAC, FOOF and
 * Shampoo.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Eva,
  FOOF,
  KFAC,
  setLearningRate,
  Shampoo,
  warmupDecaySchedule,
  WrappingOptimizer,
  type TensorwiseAlgorithm,
} from '../../src/index.js';
import { createAutoencoder, initializeLikePyTorch } from '@eva-tfjs/experiments';
import { initializedAutoencoder, randomTensor, useCpu, values } from '../helpers.js';

before(useCpu);

function small(): tf.Sequential {
  return createAutoencoder(12, [8, 3, 8]);
}

test('Eva trains the autoencoder in model.fit and beats its initial loss', async () => {
  const model = small();
  initializeLikePyTorch(model, 1);
  // Rank-3 data: reconstructible through the 3-unit code layer.
  const x = tf.matMul(randomTensor([64, 3], 20), randomTensor([3, 12], 21));
  const opt = new Eva(model, tf.train.momentum(0.05, 0.9), { weightDecay: 5e-4 });
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  const history = await model.fit(x, x, { batchSize: 16, epochs: 20, verbose: 0, shuffle: false });
  const losses = history.history.loss as number[];
  assert.ok(losses.every(Number.isFinite));
  assert.ok(losses[losses.length - 1]! < 0.5 * losses[0]!, `loss ${losses[0]} -> ${losses.at(-1)}`);
  assert.equal(opt.iterations, 80);
  opt.dispose();
  model.dispose();
});

async function trainSteps(
  model: tf.LayersModel,
  opt: Eva,
  batches: tf.Tensor[],
): Promise<number[]> {
  const losses: number[] = [];
  for (const b of batches) losses.push((await model.trainOnBatch(b, b)) as number);
  return losses;
}

test('resume from getWeights/setWeights reproduces an uninterrupted run', async () => {
  const batches = [0, 1, 2, 3, 4, 5].map((i) => randomTensor([16, 12], 30 + i));
  const options = { weightDecay: 5e-4, facUpdateFreq: 2, damping: (s: number) => 0.03 + 0.001 * s };
  const make = () => {
    const m = small();
    const o = new Eva(m, tf.train.momentum(0.05, 0.9), options);
    m.compile({ optimizer: o, loss: 'meanSquaredError' });
    return { m, o };
  };
  const reference = make();
  const initial = reference.m.getWeights().map((w) => w.clone());
  const full = await trainSteps(reference.m, reference.o, batches);

  const first = make();
  first.m.setWeights(initial);
  const head = await trainSteps(first.m, first.o, batches.slice(0, 3));
  const savedModel = first.m.getWeights().map((w) => w.clone());
  const savedState = (await first.o.getWeights()).map((w) => ({
    name: w.name,
    tensor: w.tensor.clone(),
  }));
  first.o.dispose();
  first.m.dispose();

  const resumed = make();
  resumed.m.setWeights(savedModel);
  await resumed.o.setWeights(savedState);
  assert.equal(resumed.o.iterations, 3);
  const tail = await trainSteps(resumed.m, resumed.o, batches.slice(3));
  assert.deepEqual([...head, ...tail], full);
  for (const o of [reference, resumed]) {
    o.o.dispose();
    o.m.dispose();
  }
});

test('no tensor leaks across hundreds of steps (fit, minimize, precondition)', async () => {
  const model = small();
  const opt = new Eva(model, tf.train.momentum(0.01, 0.9), { weightDecay: 1e-4 });
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  const x = randomTensor([32, 12], 40);
  await model.fit(x, x, { batchSize: 8, epochs: 1, verbose: 0 });
  const start = tf.memory().numTensors;
  await model.fit(x, x, { batchSize: 8, epochs: 50, verbose: 0 });
  for (let i = 0; i < 50; i++) {
    opt.minimize(
      () =>
        tf.losses.meanSquaredError(x, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    );
  }
  const { value, grads } = tf.variableGrads(
    () => tf.losses.meanSquaredError(x, model.predict(x) as tf.Tensor) as tf.Scalar,
  );
  tf.dispose(opt.precondition(grads)!.map((p) => p.tensor));
  tf.dispose([value, ...Object.values(grads)]);
  assert.equal(opt.iterations, 4 + 200 + 50 + 1);
  assert.equal(tf.memory().numTensors, start);
  const before = tf.memory().numTensors;
  const vars = model.getWeights().length;
  opt.dispose();
  model.dispose();
  // Eva's vectors (2 per layer) and the momentum slots (1 per variable) are released.
  assert.ok(tf.memory().numTensors <= before - 2 * 4 - vars);
});

test('a non-finite step is skipped: weights, vectors and momentum untouched', async () => {
  const model = small();
  const opt = new Eva(model, tf.train.momentum(0.05, 0.9));
  const x = randomTensor([16, 12], 50);
  const loss = (input: tf.Tensor) => () =>
    tf.losses.meanSquaredError(x, model.apply(input, { training: true }) as tf.Tensor) as tf.Scalar;
  opt.minimize(loss(x));
  const weights = model.getWeights().map(values);
  const state = (await opt.getWeights()).map((w) => values(w.tensor));
  const bad = tf.buffer(x.shape, 'float32', Float32Array.from(x.dataSync()));
  bad.set(NaN, 0, 0);
  const warn = console.warn;
  let warnings = 0;
  console.warn = () => void (warnings += 1);
  try {
    opt.minimize(loss(bad.toTensor()));
    opt.minimize(loss(bad.toTensor()));
  } finally {
    console.warn = warn;
  }
  assert.equal(opt.skippedSteps, 2);
  assert.equal(warnings, 1);
  assert.equal(opt.iterations, 1);
  assert.deepEqual(model.getWeights().map(values), weights);
  assert.deepEqual(
    (await opt.getWeights()).map((w) => values(w.tensor)),
    state,
  );
  opt.minimize(loss(x));
  assert.equal(opt.skippedSteps, 2, 'the next finite step is applied');
  assert.equal(opt.iterations, 2);
  assert.ok(model.getWeights().every((w) => values(w).every(Number.isFinite)));
  opt.dispose();
  model.dispose();
});

test("onNonFinite 'throw' throws on NaN gradients", () => {
  const model = small();
  const opt = new Eva(model, tf.train.sgd(0.1), { onNonFinite: 'throw' });
  const x = randomTensor([8, 12], 51);
  const nan = tf.fill([8, 12], NaN);
  assert.throws(
    () =>
      opt.minimize(
        () =>
          tf.losses.meanSquaredError(
            nan,
            model.apply(x, { training: true }) as tf.Tensor,
          ) as tf.Scalar,
      ),
    /non-finite/,
  );
  opt.dispose();
  model.dispose();
});

test('bad options throw at construction naming the option', () => {
  const model = small();
  const base = tf.train.sgd(0.1);
  const cases: Array<[object, RegExp]> = [
    [{ damping: 0 }, /'damping' must be > 0/],
    [{ damping: -1 }, /'damping'/],
    [{ factorDecay: 0 }, /'factorDecay' must be in \(0, 1\]/],
    [{ factorDecay: 1.5 }, /'factorDecay'/],
    [{ klClip: -1 }, /'klClip' must be >= 0/],
    [{ statsBatchSize: 0 }, /'statsBatchSize' must be a positive integer/],
    [{ statsBatchSize: 2.5 }, /'statsBatchSize'/],
    [{ facUpdateFreq: 0 }, /'facUpdateFreq'/],
    [{ weightDecay: -1 }, /'weightDecay' must be >= 0/],
    [{ onNonFinite: 'ignore' }, /'onNonFinite' must be 'skip' or 'throw'/],
    [{ dampling: 0.1 }, /unknown option 'dampling'; valid options are .*damping/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => new Eva(model, base, options as never), message, JSON.stringify(options));
  }
  assert.throws(() => new Eva(model, null as never), /tfjs optimizer/);
  assert.throws(() => new Eva({} as never, base), /tf.LayersModel/);
  // A rejected construction leaves the layers free for the next optimizer.
  new Eva(model, base).dispose();
  model.dispose();
});

test('bad per-step values and mismatched state are rejected without changing anything', async () => {
  const model = small();
  const opt = new Eva(model, tf.train.sgd(0.1), { damping: (step) => (step < 1 ? 0.03 : -1) });
  const x = randomTensor([8, 12], 60);
  const loss = () =>
    tf.losses.meanSquaredError(x, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
  opt.minimize(loss);
  const weights = model.getWeights().map(values);
  assert.throws(
    () => opt.minimize(loss),
    /'damping' must be > 0, got -1 \(returned by its function at step 1\)/,
  );
  assert.equal(opt.iterations, 1);
  assert.deepEqual(model.getWeights().map(values), weights);
  const state = await opt.getWeights();
  const wrong = state.map((w) =>
    w.name === 'eva/0/a' ? { name: w.name, tensor: tf.zeros([5]) } : w,
  );
  await assert.rejects(
    opt.setWeights(wrong),
    /'eva\/0\/a' for layer '.*' must have shape \[13\], got \[5\]/,
  );
  await assert.rejects(opt.setWeights(state.slice(1)), /step counter 'iter' first/);
  assert.equal(opt.iterations, 1);
  const other = tf.variable(tf.zeros([3]));
  assert.throws(
    () => opt.applyGradients([{ name: other.name, tensor: tf.zeros([4]) }]),
    /has shape \[4\], its variable \[3\]/,
  );
  assert.throws(
    () => opt.applyGradients({ nope: tf.zeros([1]) }),
    /'nope' is not a registered variable/,
  );
  other.dispose();
  opt.dispose();
  model.dispose();
});

test('KL clipping reads the base learning rate at each step (schedules are honoured)', () => {
  const model = small();
  const base = tf.train.momentum(0.1, 0.9);
  const opt = new Eva(model, base);
  assert.equal(opt.learningRate, 0.1);
  setLearningRate(opt, 0.02);
  assert.equal(opt.learningRate, 0.02);
  assert.equal((base as unknown as { learningRate: number }).learningRate, 0.02);
  const schedule = warmupDecaySchedule({ learningRate: 1, totalSteps: 10, warmupSteps: 2 });
  assert.deepEqual([0, 1, 2, 6, 10].map(schedule), [0.5, 1, 1, 0.5, 0]);
  opt.dispose();
  model.dispose();
});

test('a hyper-parameter function is evaluated once per step', () => {
  const model = small();
  const calls: number[] = [];
  const opt = new Eva(model, tf.train.sgd(0.01), {
    damping: (step) => {
      calls.push(step);
      return 0.03;
    },
  });
  const x = randomTensor([8, 12], 61);
  for (let i = 0; i < 3; i++) {
    opt.minimize(
      () =>
        tf.losses.meanSquaredError(x, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    );
  }
  assert.deepEqual(calls, [0, 1, 2]);
  opt.dispose();
  model.dispose();
});

test('disposing Eva releases everything, including the scalar tfjs momentum forgets', () => {
  const model = small();
  const before = tf.memory().numTensors;
  new Eva(model, tf.train.momentum(0.1, 0.9)).dispose();
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

async function countIntervals(
  make: (m: tf.LayersModel) => { inverseUpdates: number; statisticsUpdates: number } & tf.Optimizer,
  steps: number,
): Promise<{ inverses: number; statistics: number }> {
  const model = initializedAutoencoder();
  const opt = make(model);
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  const x = randomTensor([8, 12], 5);
  for (let s = 0; s < steps; s++) await model.trainOnBatch(x, x);
  const counts = { inverses: opt.inverseUpdates, statistics: opt.statisticsUpdates };
  x.dispose();
  opt.dispose();
  model.dispose();
  return counts;
}

test('K-FAC, FOOF and Shampoo refresh factors and inverses on their own intervals', async () => {
  const base = () => tf.train.momentum(0.01, 0.9);
  for (const [fac, inv, steps] of [
    [1, 1, 5],
    [2, 3, 10],
    [1, 10, 21],
    [5, 50, 51],
  ] as const) {
    const expected = { inverses: Math.ceil(steps / inv), statistics: Math.ceil(steps / fac) };
    const options = { facUpdateFreq: fac, invUpdateFreq: inv };
    assert.deepEqual(await countIntervals((m) => new KFAC(m, base(), options), steps), expected);
    assert.deepEqual(await countIntervals((m) => new FOOF(m, base(), options), steps), expected);
    // Shampoo counts from 1 as Google's port (on the last step of each interval), on blocks
    // small enough that the autoencoder's kernels keep two merged axes.
    const shampoo = { ...options, blockSize: 4 };
    assert.deepEqual(await countIntervals((m) => new Shampoo(m, base(), shampoo), steps), {
      inverses: Math.floor(steps / inv),
      statistics: Math.floor(steps / fac),
    });
  }
});

test('grafting releases only directions the algorithm owns (not state, not a tensor used twice)', () => {
  // Two Dense layers with [3] biases; the toy's direction is a state tensor for the first
  // kernel and one fresh tensor for both biases.
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [4], units: 3 }), tf.layers.dense({ units: 3 })],
  });
  let ones: tf.Tensor | null = null;
  const toy: TensorwiseAlgorithm = {
    kind: 'tensorwise',
    name: 'Toy',
    options: {},
    grafting: 'sgd',
    createState: () => ({
      named: () => (ones ? [{ name: 'toy/ones', tensor: ones }] : []),
      validate: () => undefined,
      load: () => undefined,
      dispose: () => ones?.dispose(),
    }),
    updateStatistics: () => false,
    transform(_state, gradients) {
      const kernel = gradients.find((g) => g.gradient.rank === 2)!;
      ones ??= tf.keep(tf.onesLike(kernel.gradient));
      const shared = tf.ones([3]);
      const biases = gradients.filter((g) => g.gradient.rank === 1);
      return new Map([[kernel.name, ones], ...biases.map((b) => [b.name, shared] as const)]);
    },
  };
  const opt = new WrappingOptimizer(model, tf.train.sgd(0.1), {}, toy);
  const x = randomTensor([5, 4], 30);
  for (let step = 0; step < 3; step++) {
    opt.minimize(
      () =>
        tf.losses.meanSquaredError(
          x.slice([0, 0], [5, 3]),
          model.predict(x) as tf.Tensor,
        ) as tf.Scalar,
    );
  }
  assert.equal(ones!.isDisposed, false);
  opt.dispose();
  model.dispose();
});
