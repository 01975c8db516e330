/**
 * The whole family as tfjs optimizers: every registry name trains the autoencoder in
 * `model.fit` without leaks, resumes exactly from getWeights/setWeights, K-FAC/FOOF/Shampoo
 * refresh statistics and inverses on their intervals, the first-order baselines follow
 * PyTorch's formulas, and bad options are rejected by name.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Adagrad,
  Adam,
  AdamW,
  createOptimizerByName,
  EvaS,
  FOOF,
  KFAC,
  MFAC,
  optimizerEntry,
  optimizerNames,
  optimizerOptionNames,
  Shampoo,
} from '../src/index.js';
import { createAutoencoder, initializeLikePyTorch } from '@eva-tfjs/experiments';
import { assertClose, randomTensor, useCpu, values } from './helpers.js';

before(useCpu);

function small(): tf.Sequential {
  const model = createAutoencoder(12, [8, 3, 8]);
  initializeLikePyTorch(model, 1);
  return model;
}

/** The registry's settings for the tests: a learning rate that trains the small autoencoder. */
const settings = (name: string) => {
  const { learningRate, options } = optimizerEntry(name).testing;
  return { learningRate, ...options };
};

for (const name of optimizerNames()) {
  test(`${name}: trains the autoencoder in model.fit, no leaks, releases its state`, async () => {
    const model = small();
    const x = tf.matMul(randomTensor([48, 3], 20), randomTensor([3, 12], 21));
    const opt = createOptimizerByName(name, model, { ...settings(name), weightDecay: 1e-4 });
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const first = await model.fit(x, x, { batchSize: 16, epochs: 1, verbose: 0, shuffle: false });
    const start = tf.memory().numTensors;
    const history = await model.fit(x, x, {
      batchSize: 16,
      epochs: 15,
      verbose: 0,
      shuffle: false,
    });
    assert.equal(tf.memory().numTensors, start, 'steady state: no tensor growth');
    const losses = [first.history.loss![0] as number, ...(history.history.loss as number[])];
    assert.ok(losses.every(Number.isFinite), `${name} losses finite`);
    assert.ok(losses.at(-1)! < 0.8 * losses[0]!, `${name}: loss ${losses[0]} -> ${losses.at(-1)}`);
    assert.equal(opt.iterations, 48);
    const before = tf.memory().numTensors;
    opt.dispose();
    assert.ok(tf.memory().numTensors < before, `${name} releases its state`);
    model.dispose();
  });

  test(`${name}: resume from getWeights/setWeights reproduces an uninterrupted run`, async () => {
    const batches = [0, 1, 2, 3, 4].map((i) => randomTensor([16, 12], 30 + i));
    const options = {
      ...settings(name),
      weightDecay: 1e-4,
      // Inverses on alternate steps, so the resume lands between two inverse refreshes.
      ...(optimizerOptionNames(name).includes('invUpdateFreq') ? { invUpdateFreq: 2 } : {}),
    };
    const make = () => {
      const m = small();
      const o = createOptimizerByName(name, m, options);
      m.compile({ optimizer: o, loss: 'meanSquaredError' });
      return { m, o };
    };
    const train = async (m: tf.LayersModel, bs: tf.Tensor[]) => {
      const losses: number[] = [];
      for (const b of bs) losses.push((await m.trainOnBatch(b, b)) as number);
      return losses;
    };
    const reference = make();
    const full = await train(reference.m, batches);
    const firstRun = make();
    const head = await train(firstRun.m, batches.slice(0, 3));
    const savedModel = firstRun.m.getWeights().map((w) => w.clone());
    const savedState = (await firstRun.o.getWeights()).map((w) => ({
      name: w.name,
      tensor: w.tensor.clone(),
    }));
    firstRun.o.dispose();
    firstRun.m.dispose();
    const resumed = make();
    resumed.m.setWeights(savedModel);
    await resumed.o.setWeights(savedState);
    const tail = await train(resumed.m, batches.slice(3));
    assert.deepEqual([...head, ...tail], full);
    tf.dispose([...batches, ...savedModel, ...savedState.map((s) => s.tensor)]);
    for (const r of [reference, resumed]) {
      r.o.dispose();
      r.m.dispose();
    }
  });
}

async function countIntervals(
  make: (m: tf.LayersModel) => { inverseUpdates: number; statisticsUpdates: number } & tf.Optimizer,
  steps: number,
): Promise<{ inverses: number; statistics: number }> {
  const model = small();
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
    assert.deepEqual(await countIntervals((m) => new Shampoo(m, base(), options), steps), expected);
  }
});

test('Adagrad, Adam and AdamW follow PyTorch formulas (weight decay: L2 vs decoupled)', () => {
  const lr = 0.1;
  const wd = 0.05;
  const w0 = [0.5, -1.5, 2];
  const grads = [
    [0.1, -0.2, 0.3],
    [0.4, 0.1, -0.5],
    [-0.3, 0.2, 0.1],
  ];
  const run = (opt: tf.Optimizer) => {
    const v = tf.variable(tf.tensor1d(w0));
    for (const g of grads) {
      const gt = tf.tensor1d(g);
      opt.applyGradients([{ name: v.name, tensor: gt }]);
      gt.dispose();
    }
    const out = values(v);
    v.dispose();
    opt.dispose();
    return out;
  };
  // Float64 references.
  const adagrad = () => {
    const w = [...w0];
    const s = [0, 0, 0];
    for (const g of grads) {
      w.forEach((wi, i) => {
        const d = g[i]! + wd * wi;
        s[i]! += d * d;
        w[i] = wi - (lr * d) / (Math.sqrt(s[i]!) + 1e-10);
      });
    }
    return w;
  };
  const adam = (decoupled: boolean) => {
    const w = [...w0];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    grads.forEach((g, t) => {
      w.forEach((wi, i) => {
        const base = decoupled ? wi * (1 - lr * wd) : wi;
        const d = decoupled ? g[i]! : g[i]! + wd * wi;
        m[i] = 0.9 * m[i]! + 0.1 * d;
        v[i] = 0.999 * v[i]! + 0.001 * d * d;
        const mHat = m[i]! / (1 - 0.9 ** (t + 1));
        const vHat = v[i]! / (1 - 0.999 ** (t + 1));
        w[i] = base - (lr * mHat) / (Math.sqrt(vHat) + 1e-8);
      });
    });
    return w;
  };
  assertClose(run(new Adagrad({ learningRate: lr, weightDecay: wd })), adagrad(), 1e-6, 'adagrad');
  assertClose(run(new Adam({ learningRate: lr, weightDecay: wd })), adam(false), 1e-6, 'adam');
  assertClose(run(new AdamW({ learningRate: lr, weightDecay: wd })), adam(true), 1e-6, 'adamw');
  assert.equal(new AdamW({ learningRate: lr }).weightDecay, 0.01, 'PyTorch default');
});

test('bad options of the family are rejected by name, listing what is valid', () => {
  const model = small();
  const base = tf.train.momentum(0.1, 0.9);
  assert.throws(
    () => new KFAC(model, base, { invUpdateFreq: 0 }),
    /'invUpdateFreq' must be a positive integer/,
  );
  assert.throws(
    () => new KFAC(model, base, { linalg: 'lu' as 'host' }),
    /'linalg' must be 'host' or 'newton'/,
  );
  assert.throws(
    () => new FOOF(model, base, { klNormalize: 1 as unknown as boolean }),
    /'klNormalize' must be true or false/,
  );
  assert.throws(
    () => new Shampoo(model, base, { graft: 'adam' as 'sgd' }),
    /'graft' must be 'sgd' or 'none'/,
  );
  assert.throws(
    () => new Shampoo(model, base, { blockSize: 1.5 }),
    /'blockSize' must be a positive integer/,
  );
  assert.throws(() => new EvaS(model, base, { beta2: 0 }), /'beta2' must be in \(0, 1\]/);
  assert.throws(
    () => new EvaS(model, base, { klClip: 1 } as object),
    /EvaS: unknown option 'klClip'; valid options are beta2, damping/,
  );
  assert.throws(
    () => new MFAC(model, base, { m: 1000, maxWindowBytes: 1e5 }),
    /MFAC: a window of m = 1000 gradients of \d+ parameters needs .* GiB, more than maxWindowBytes/,
  );
  assert.throws(
    () => createOptimizerByName('adam', model, { learningRate: 0.1, momentum: 0.9 }),
    /adam: unknown option 'momentum'/,
  );
  base.dispose();
  model.dispose();
});
