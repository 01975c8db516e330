/**
 * Shampoo against an independent float64 computation on the small Conv2D/Dense model of the
 * preconditioner tests: the blockwise Kronecker product of inverse roots, eigendecomposed with
 * ml-matrix from both steps' gradients, then grafted.
 */
import * as tf from '@tensorflow/tfjs';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Shampoo } from '../../src/index.js';
import { blockLayout } from '../../src/preconditioners/shampoo.js';
import {
  addIdentity,
  assertClose,
  kron,
  runOnce,
  symmetricPower,
  useCpu,
  values,
} from '../helpers.js';

before(useCpu);

test('Shampoo equals the blockwise Kronecker product of float64 inverse roots, grafted', async () => {
  const eps = 1e-3;
  const blockSize = 4;
  const run = await runOnce(
    (m) => new Shampoo(m, tf.train.sgd(0.1), { blockSize, matrixEps: eps }),
    2,
  );
  const norm = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0));
  let blocked = 0;
  for (const weight of run.model.trainableWeights) {
    const name = (weight.read() as tf.Variable).name;
    const g1 = run.grads[name]!;
    if (g1.rank < 2) {
      assertClose(values(run.result.get(name)!), values(g1), 1e-6, `${name} (vector) unchanged`);
      continue;
    }
    const layout = blockLayout(g1.shape, blockSize);
    const gv = values(g1);
    // Independent statistics: the test replays both steps' gradients.
    const direction = new Array<number>(gv.length).fill(0);
    const strides = layout.merged.map((_, i) =>
      layout.merged.slice(i + 1).reduce((p, d) => p * d, 1),
    );
    const history = run.history.get(name)!;
    if (layout.blocks.length > 1) blocked += 1;
    for (const block of layout.blocks) {
      const positions: number[] = [];
      const visit = (axis: number, offset: number) => {
        if (axis === block.size.length) return void positions.push(offset);
        for (let i = 0; i < block.size[axis]!; i++)
          visit(axis + 1, offset + (block.begin[axis]! + i) * strides[axis]!);
      };
      visit(0, 0);
      const k = block.size.length;
      const roots = block.size.map((size, axis) => {
        let l = addIdentity(
          Array.from({ length: size }, () => new Array<number>(size).fill(0)),
          eps,
        );
        for (const past of history) {
          const blockValues = positions.map((p) => past[p]!);
          const moved = unfold(blockValues, block.size, axis);
          l = l.map((row, i) => row.map((v, j) => v + dot(moved[i]!, moved[j]!)));
        }
        const lambdaMax = Math.max(
          ...new EigenvalueDecomposition(new Matrix(l), { assumeSymmetric: true }).realEigenvalues,
        );
        return symmetricPower(l, -1 / (2 * k), eps * lambdaMax);
      });
      const kron2 = roots
        .slice(1)
        .reduce((acc, r) => kron(acc.to2DArray(), r), new Matrix(roots[0]!));
      const p = kron2.mmul(Matrix.columnVector(positions.map((q) => gv[q]!))).getColumn(0);
      positions.forEach((q, i) => (direction[q] = p[i]!));
    }
    const grafted = direction.map((x) => (x * norm(gv)) / norm(direction));
    assertClose(values(run.result.get(name)!), grafted, 2e-3, name);
  }
  assert.ok(blocked >= 1, 'the test must exercise block partitioning');
  run.cleanup();
});

function dot(a: number[], b: number[]): number {
  return a.reduce((s, x, i) => s + x * b[i]!, 0);
}

/** Rows of the mode-`axis` unfolding of a row-major tensor of `shape`. */
function unfold(data: number[], shape: number[], axis: number): number[][] {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
  const rows = Array.from({ length: shape[axis]! }, () => [] as number[]);
  data.forEach((v, flat) => {
    const index = Math.floor(flat / strides[axis]!) % shape[axis]!;
    rows[index]!.push(v);
  });
  return rows;
}
