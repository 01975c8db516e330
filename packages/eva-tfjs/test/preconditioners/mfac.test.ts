/**
 * M-FAC against an independent float64 dense computation on the small Conv2D/Dense model of the
 * preconditioner tests: lambda I plus the windowed gradient outer products, built explicitly and
 * solved with ml-matrix; and the whole step with the reference's dampened momentum
 * (`v = mu v + (1 - mu) F^-1 g`), or the undamped one on request.
 */
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createOptimizer, MFAC, type NamedTensor } from '../../src/index.js';
import {
  assertClose,
  buildModel,
  randomTensor,
  runOnce,
  solveDense,
  useCpu,
  values,
} from '../helpers.js';

before(useCpu);

test('MFAC equals (lambda I + (1/m) sum of the last m gradients g g^T)^-1 g solved densely', async () => {
  const m = 2;
  const lambda = 0.01;
  const model = buildModel();
  const opt = new MFAC(model, tf.train.sgd(0.1), { m, damping: lambda, weightDecay: 0.1 });
  const order = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
  const window: number[][] = [];
  let last: { flat: number[]; result: NamedTensor[] } | null = null;
  for (let s = 0; s < 3; s++) {
    const x = randomTensor([4, 6, 6, 2], 20 + s);
    const y = randomTensor([4, 3], 40 + s);
    const { value, grads } = tf.variableGrads(
      () =>
        tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    );
    // Weight decay joins the gradient before the window (reference semantics).
    const flat = order.flatMap((name) => {
      const variable = tf.engine().registeredVariables[name]!;
      const gv = values(grads[name]!);
      const wv = values(variable);
      return gv.map((g, i) => g + 0.1 * wv[i]!);
    });
    window.push(flat);
    if (window.length > m) window.shift();
    if (last) tf.dispose(last.result.map((r) => r.tensor));
    last = { flat, result: opt.precondition(grads)! };
    tf.dispose([x, y, value, ...Object.values(grads)]);
  }
  const d = last!.flat.length;
  const f = Matrix.eye(d, d).mul(lambda);
  for (const g of window) f.add(Matrix.columnVector(g).mmul(Matrix.rowVector(g)).div(m));
  const expected = solveDense(f, last!.flat);
  const byName = new Map(last!.result.map((r) => [r.name, r.tensor]));
  const actual = order.flatMap((name) => values(byName.get(name)!));
  assertClose(actual, expected, 1e-3, 'M-FAC direction');
  tf.dispose(last!.result.map((r) => r.tensor));
  opt.dispose();
  model.dispose();
});

const TRAJECTORIES = [
  { label: 'by name: dampened momentum as the reference', dampened: true, byName: true },
  { label: 'by name with dampenMomentum false: undamped', dampened: false, byName: true },
  { label: 'the class on tf.train.momentum: dampened', dampened: true, byName: false },
] as const;

for (const { label, dampened, byName } of TRAJECTORIES) {
  test(`MFAC's steps follow the reference in float64 (${label})`, async () => {
    const [lr, mu, wd, m, lambda, steps] = [0.01, 0.9, 1e-3, 2, 0.01, 3];
    const options = { m, damping: lambda, weightDecay: wd };
    const tensors = tf.memory().numTensors;
    const run = await runOnce(
      (model) =>
        byName
          ? createOptimizer('mfac', model, {
              learningRate: lr,
              momentum: mu,
              ...options,
              ...(dampened ? {} : { dampenMomentum: false }),
            })
          : new MFAC(model, tf.train.momentum(lr, mu), options),
      steps,
      'apply',
    );
    const names = run.model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    const w = names.flatMap((name) => run.initial.get(name)!);
    const d = w.length;
    const velocity = new Array<number>(d).fill(0);
    const window: number[][] = [];
    for (let s = 0; s < steps; s++) {
      // Weight decay joins the gradient before the window.
      const g = names.flatMap((name) => run.history.get(name)![s]!).map((x, i) => x + wd * w[i]!);
      window.push(g);
      if (window.length > m) window.shift();
      const f = Matrix.eye(d, d).mul(lambda);
      for (const past of window)
        f.add(Matrix.columnVector(past).mmul(Matrix.rowVector(past)).div(m));
      const p = solveDense(f, g);
      for (let i = 0; i < d; i++) {
        velocity[i] = mu * velocity[i]! + (dampened ? 1 - mu : 1) * p[i]!;
        w[i]! -= lr * velocity[i]!;
      }
    }
    const actual = run.model.trainableWeights.flatMap((v) => values(v.read()));
    assertClose(actual, w, 1e-4, 'weights');
    run.cleanup();
    assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
  });
}
