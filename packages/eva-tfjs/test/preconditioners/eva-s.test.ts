/**
 * Eva-s against an independent float64 dense computation on the small Conv2D/Dense model of the
 * preconditioner tests: the rank-one matrix of the axis vectors plus gamma I, built explicitly
 * and solved with ml-matrix, then grafted; and the whole step of the authors' code (their
 * vShampoo: weight decay after grafting, in-place Nesterov momentum) replayed in float64.
 */
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EvaS } from '../../src/index.js';
import {
  assertClose,
  checkReferenceNesterovSteps,
  runOnce,
  solveDense,
  useCpu,
  values,
} from '../helpers.js';

before(useCpu);

/** Row-major outer product of vectors. */
function outer(vectors: number[][]): number[] {
  return vectors.reduce<number[]>((acc, v) => acc.flatMap((x) => v.map((y) => x * y)), [1]);
}

test('EvaS: axis vectors are running sums of axis means; P solves (v v^T + gamma I) and is grafted', async () => {
  const damping = 0.05;
  const run = await runOnce((m) => new EvaS(m, tf.train.sgd(0.1), { damping }), 2);
  let checked = 0;
  for (const [index, weight] of run.model.trainableWeights.entries()) {
    const name = (weight.read() as tf.Variable).name;
    const g = run.grads[name]!;
    if (g.rank < 2) {
      assertClose(values(run.result.get(name)!), values(g), 1e-6, `${name} (vector) unchanged`);
      continue;
    }
    const vectors = g.shape.map((_, axis) => values(run.state.get(`evas/${index}/v${axis}`)!));
    const v = outer(vectors);
    const c = new Matrix(v.map((x, i) => v.map((y, j) => x * y + (i === j ? damping : 0))));
    const gv = values(g);
    const p = solveDense(c, gv);
    const norm = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0));
    const grafted = p.map((x) => (x * norm(gv)) / norm(p));
    assertClose(values(run.result.get(name)!), grafted, 5e-4, name);
    checked += 1;
  }
  assert.equal(checked, 4);
  run.cleanup();
  // Axis vectors after one step are the plain axis means (beta2 = 1 sums from zero).
  const single = await runOnce((m) => new EvaS(m, tf.train.sgd(0.1)));
  const kernel = single.model.trainableWeights[0]!;
  const g = single.grads[(kernel.read() as tf.Variable).name]!;
  const gv = values(g);
  const cout = g.shape[3]!;
  const rows = gv.length / cout;
  const meanOverOthers = Array.from({ length: cout }, (_, o) => {
    let s = 0;
    for (let i = 0; i < rows; i++) s += gv[i * cout + o]!;
    return s / rows;
  });
  assertClose(values(single.state.get('evas/0/v3')!), meanOverOthers, 1e-5, 'v3 of conv kernel');
  single.cleanup();
});

/** Row-major axis means of a tensor of `shape`: the mean over every axis but `axis`. */
function axisMean(data: number[], shape: number[], axis: number): number[] {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
  const sums = new Array<number>(shape[axis]!).fill(0);
  data.forEach((v, flat) => (sums[Math.floor(flat / strides[axis]!) % shape[axis]!]! += v));
  return sums.map((x) => (x * shape[axis]!) / data.length);
}

test("EvaS by name with the authors' in-place Nesterov and weight decay follows their step", async () => {
  const damping = 0.03;
  const norm = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0));
  await checkReferenceNesterovSteps('evas', { damping }, (shape) => {
    const sums = shape.map((d) => new Array<number>(d).fill(0));
    return (g) => {
      if (shape.length < 2) return g;
      // Statistics: running sums of the axis means; P = G - <G, v> v / (gamma + prod |v_i|^2).
      shape.forEach((_, axis) =>
        axisMean(g, shape, axis).forEach((x, i) => (sums[axis]![i]! += x)),
      );
      const v = outer(sums);
      const coefficient =
        v.reduce((s, x, i) => s + x * g[i]!, 0) /
        (damping + sums.reduce((p, x) => p * norm(x) ** 2, 1));
      const p = g.map((x, i) => x - coefficient * v[i]!);
      return p.map((x) => (x * norm(g)) / (norm(p) + 1e-16));
    };
  });
});
