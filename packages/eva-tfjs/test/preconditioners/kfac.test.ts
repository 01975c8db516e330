/**
 * K-FAC against an independent float64 dense computation on the small Conv2D/Dense model of
 * the preconditioner tests: the full Kronecker-factored matrix is built explicitly and solved
 * with ml-matrix; its factors against rows^T rows of the first statsBatchSize samples; with
 * `inverseWorker`, each refresh's inverses (float64 on a worker thread) against dense inverses
 * of the factors of the refresh before.
 */
import * as tf from '@tensorflow/tfjs';
import { Matrix, inverse } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FOOF, KFAC } from '../../src/index.js';
import {
  addIdentity,
  assertClose,
  buildModel,
  checkLayerwise,
  kron,
  layerInfos,
  matrix,
  randomTensor,
  read2d,
  runOnce,
  useCpu,
  values,
} from '../helpers.js';

before(useCpu);

for (const klClip of [null, 0.001] as const) {
  test(`KFAC equals (Gf + sqrt(g)/pi I)^-1 (x) (A + sqrt(g) pi I)^-1 solved densely (klClip ${klClip})`, async () => {
    const damping = 0.05;
    const lr = 0.5;
    const run = await runOnce(
      (m) => new KFAC(m, tf.train.sgd(lr), { damping, klClip, statsBatchSize: 5 }),
    );
    const opt = run.optimizer as KFAC;
    checkLayerwise(
      run,
      layerInfos(opt),
      (info) => {
        const a = read2d(run.state.get(`kfac/${info.index}/A`)!);
        const g = read2d(run.state.get(`kfac/${info.index}/G`)!);
        const trA = a.reduce((s, row, i) => s + row[i]!, 0) / a.length;
        const trG = g.reduce((s, row, i) => s + row[i]!, 0) / g.length;
        const pi = Math.sqrt(trA / trG);
        return kron(
          addIdentity(g, Math.sqrt(damping) / pi),
          addIdentity(a, Math.sqrt(damping) * pi),
        );
      },
      ({ pg }) => (klClip == null ? 1 : Math.min(1, Math.sqrt(klClip / (lr * lr * pg)))),
    );
    run.cleanup();
  });
}

test('KFAC factors are rows^T rows / n of the first statsBatchSize samples (Dense, bias column)', async () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'relu' })],
  });
  const opt = new KFAC(model, tf.train.sgd(0.1), { statsBatchSize: 3 });
  const x = randomTensor([5, 4], 9);
  const y = randomTensor([5, 3], 10);
  const { value, grads } = tf.variableGrads(
    () =>
      tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
  );
  tf.dispose(opt.precondition(grads)!.map((r) => r.tensor));
  const state = new Map((await opt.getWeights()).map((w) => [w.name, w.tensor]));
  const rows = matrix(x, 5)
    .slice(0, 3)
    .map((r) => [...r, 1]);
  const expectedA = new Matrix(rows).transpose().mmul(new Matrix(rows)).div(3).to2DArray();
  assertClose(values(state.get('kfac/0/A')!), expectedA.flat(), 1e-5, 'A');
  // Gradient rows: d loss / d pre-activation for the first 3 samples (MSE over 5*3 entries).
  const kernel = matrix(model.layers[0]!.getWeights()[0]!, 4);
  const bias = values(model.layers[0]!.getWeights()[1]!);
  const yv = matrix(y, 5);
  const gRows = rows.map((r, n) =>
    Array.from({ length: 3 }, (_, o) => {
      const z = r.slice(0, 4).reduce((s, v, i) => s + v * kernel[i]![o]!, bias[o]!);
      const out = Math.max(z, 0);
      return z > 0 ? (2 * (out - yv[n]![o]!)) / 15 : 0;
    }),
  );
  const expectedG = new Matrix(gRows).transpose().mmul(new Matrix(gRows)).div(3).to2DArray();
  assertClose(values(state.get('kfac/0/G')!), expectedG.flat(), 1e-4, 'G');
  tf.dispose([x, y, value, ...Object.values(grads)]);
  opt.dispose();
  model.dispose();
});

test("KFAC with inverseWorker: the first refresh waits for its inverses, later ones install the previous refresh's", async () => {
  const damping = 0.05;
  const tensors = tf.memory().numTensors;
  const model = buildModel();
  const opt = new KFAC(model, tf.train.sgd(0.1), {
    damping,
    statsBatchSize: 5,
    inverseWorker: true,
  });
  const layers = opt.layers.length;
  const step = (seed: number) => {
    const x = randomTensor([7, 6, 6, 2], seed);
    const y = randomTensor([7, 3], 100 + seed);
    const { value, grads } = tf.variableGrads(
      () =>
        tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    );
    opt.applyGradients(grads);
    tf.dispose([x, y, value, ...Object.values(grads)]);
  };
  const snapshot = async () => {
    const weights = await opt.getWeights();
    const state = new Map(weights.map((w) => [w.name, read2d(w.tensor)]));
    tf.dispose(weights.filter((w) => w.name.endsWith('iter')).map((w) => w.tensor));
    return state;
  };
  /** The damped inverses of a state's factors, as the reference splits the damping. */
  const denseInverses = (state: Map<string, number[][]>, i: number) => {
    const a = state.get(`kfac/${i}/A`)!;
    const g = state.get(`kfac/${i}/G`)!;
    const pi = Math.sqrt(
      a.reduce((s, row, k) => s + row[k]!, 0) /
        a.length /
        (g.reduce((s, row, k) => s + row[k]!, 0) / g.length),
    );
    return {
      a: inverse(new Matrix(addIdentity(a, Math.sqrt(damping) * pi))).to1DArray(),
      g: inverse(new Matrix(addIdentity(g, Math.sqrt(damping) / pi))).to1DArray(),
    };
  };
  const check = (state: Map<string, number[][]>, from: Map<string, number[][]>, label: string) => {
    for (let i = 0; i < layers; i++) {
      const expected = denseInverses(from, i);
      assertClose(state.get(`kfac/${i}/inverseA`)!.flat(), expected.a, 2e-4, `${label} A ${i}`);
      assertClose(state.get(`kfac/${i}/inverseG`)!.flat(), expected.g, 2e-4, `${label} G ${i}`);
    }
  };
  step(1); // refresh 1: waits for its own inverses
  const first = await snapshot();
  check(first, first, 'step 1');
  assert.ok(first.has('kfac/0/nextInverseA'), 'the waiting inverses are state');
  step(2); // refresh 2: installs refresh 1's again, hands step 2's factors to the thread
  const second = await snapshot();
  check(second, first, 'step 2');
  step(3); // refresh 3: installs refresh 2's
  check(await snapshot(), second, 'step 3');
  opt.dispose();
  model.dispose();
  assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
});

test('KFAC and FOOF refuse inverseWorker with the newton route', () => {
  const model = buildModel();
  assert.throws(
    () => new KFAC(model, tf.train.sgd(0.1), { inverseWorker: true, linalg: 'newton' }),
    /KFAC: inverseWorker computes the inverses by float64 Cholesky; linalg 'newton' cannot apply/,
  );
  // (The refused K-FAC released the model's layers: FOOF gets to its own option check.)
  assert.throws(
    () => new FOOF(model, tf.train.sgd(0.1), { inverseWorker: true, linalg: 'newton' }),
    /FOOF: inverseWorker computes the inverses by float64 Cholesky; linalg 'newton' cannot apply/,
  );
  model.dispose();
});

test('KFAC with inverseWorker: a layer without statistics waits (as synchronously); its first refresh with them waits for its own inverses', async () => {
  const input = tf.input({ shape: [6] });
  const h = tf.layers.dense({ units: 5, activation: 'tanh' }).apply(input) as tf.SymbolicTensor;
  const first = tf.layers.dense({ units: 3 }).apply(h) as tf.SymbolicTensor;
  const second = tf.layers.dense({ units: 3 }).apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: [first, second] });
  const x = randomTensor([8, 6], 3);
  const y = randomTensor([8, 3], 4);
  const opt = new KFAC(model, tf.train.sgd(0.05), { inverseWorker: true, statsBatchSize: 8 });
  const head = opt.layers.find((l) => l.layer === model.layers[3])!;
  /** Whether the second head has inverses (its state entry exists). */
  const secondReady = async () => {
    const weights = await opt.getWeights();
    const ready = weights.some((w) => w.name === `kfac/${head.index}/inverseA`);
    tf.dispose(weights.filter((w) => w.name.endsWith('iter')).map((w) => w.tensor));
    return ready;
  };
  const losses: number[] = [];
  for (let step = 0; step < 4; step++) {
    // The heads' losses alternate: the second head has no statistics at step 0.
    const loss = opt.minimize(() => {
      const [p1, p2] = model.predict(x) as tf.Tensor[];
      return tf.losses.meanSquaredError(y, step % 2 === 0 ? p1! : p2!) as tf.Scalar;
    }, true)!;
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
    if (step === 0) assert.ok(!(await secondReady()), 'no inverses without statistics');
  }
  assert.ok(await secondReady(), 'the second head got its inverses');
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.equal(opt.inverseUpdates, 4);
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
});

test('inverseWorker: a state saved with the other setting is refused saying so; interval 1 warns', async (t) => {
  const warn = t.mock.method(console, 'warn', () => undefined);
  const model = buildModel();
  const x = randomTensor([7, 6, 6, 2], 5);
  const y = randomTensor([7, 3], 6);
  const saved = async (inverseWorker: boolean) => {
    const opt = new KFAC(model, tf.train.sgd(0.1), { inverseWorker, invUpdateFreq: 2 });
    opt.minimize(() => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar);
    const weights = await opt.getWeights();
    const copies = weights.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    tf.dispose(weights.filter((w) => w.name.endsWith('iter')).map((w) => w.tensor));
    opt.dispose();
    return copies;
  };
  const withWorker = await saved(true);
  const without = await saved(false);
  assert.equal(warn.mock.callCount(), 0, 'no warning at interval 2');
  const worker = new KFAC(model, tf.train.sgd(0.1), { inverseWorker: true });
  assert.match(
    String(warn.mock.calls[0]?.arguments[0]),
    /KFAC: inverseWorker with invUpdateFreq 1 waits every step/,
  );
  await assert.rejects(
    worker.setWeights(without),
    /KFAC.setWeights: the state was saved without inverseWorker \('kfac\/0\/inverseA' has no waiting result beside it\); load it into an optimizer with inverseWorker: false/,
  );
  worker.dispose();
  const plain = new KFAC(model, tf.train.sgd(0.1));
  await assert.rejects(
    plain.setWeights(withWorker),
    /KFAC.setWeights: the state was saved with inverseWorker \('kfac\/0\/nextInverseA' holds a waiting result\); load it into an optimizer with inverseWorker: true/,
  );
  await plain.setWeights(without);
  plain.dispose();
  tf.dispose([x, y, ...withWorker.map((w) => w.tensor), ...without.map((w) => w.tensor)]);
  model.dispose();
});
