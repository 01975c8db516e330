/**
 * Shampoo against an independent float64 replay of Google's PyTorch port (the paper's baseline)
 * on the small Conv2D/Dense model of the preconditioner tests: the port's shape merging and
 * blocks, statistics every `statistics_compute_steps` and roots every
 * `preconditioning_compute_steps` of its 1-based step counter (identity before the first), 1x1
 * statistics left at the identity, tensors whose merged shape has rank <= 1 only grafted; roots
 * by a float64 eigendecomposition (ml-matrix), then SGD grafting; and the whole step with weight
 * decay and the port's in-place Nesterov momentum. With `rootWorker`, the same replay with each
 * refresh's roots installed at the next refresh, an exact resume while roots are in flight, and
 * its errors.
 */
import * as tf from '@tensorflow/tfjs';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Shampoo } from '../../src/index.js';
import { disposeIterationCounters } from '../../src/optimizer/gradients.js';
import {
  assertClose,
  buildModel,
  checkReferenceNesterovSteps,
  kron,
  mseStep,
  randomTensor,
  runOnce,
  symmetricPower,
  twoLayerModel,
  useCpu,
  values,
} from '../helpers.js';

before(useCpu);

/** The port's hyper-parameters this replay takes. */
interface PortSettings {
  blockSize: number;
  matrixEps: number;
  statisticsSteps: number;
  rootSteps: number;
  /** Roots computed at a refresh take effect at the next one (`rootWorker`). */
  lagged?: boolean;
}

const norm = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0));
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

/** The port's merging: consecutive dimensions while the product stays <= max, 1s dropped. */
function portMergedShape(shape: readonly number[], max: number): number[] {
  const merged: number[] = [];
  let product = 1;
  for (const d of shape) {
    if (product * d <= max) product *= d;
    else {
      if (product > 1) merged.push(product);
      product = d;
    }
  }
  if (product > 1) merged.push(product);
  return merged;
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

/** Google's PyTorch Shampoo on one parameter tensor, replayed in float64. */
class PortShampoo {
  private step = 0;
  /** Per block: its element positions in the flat tensor, its shape, statistics and roots. */
  readonly blocks: Array<{
    positions: number[];
    size: number[];
    statistics: number[][][];
    roots: number[][][];
    /** (lagged) The roots the next refresh installs. */
    next: number[][][];
  }> = [];

  constructor(
    shape: readonly number[],
    private readonly settings: PortSettings,
  ) {
    const merged = portMergedShape(shape, settings.blockSize);
    if (merged.length <= 1) return; // the port keeps no statistics: grafting only
    const strides = merged.map((_, i) => merged.slice(i + 1).reduce((p, d) => p * d, 1));
    const pieces = merged.map((d) => {
      const starts: Array<[number, number]> = [];
      for (let s = 0; s < d; s += settings.blockSize)
        starts.push([s, Math.min(settings.blockSize, d - s)]);
      return starts;
    });
    // The blocks in the port's order: the first split axis outermost.
    let grid: Array<Array<[number, number]>> = [[]];
    for (const axisPieces of pieces) grid = grid.flatMap((b) => axisPieces.map((p) => [...b, p]));
    for (const block of grid) {
      const size = block.map(([, n]) => n);
      const positions: number[] = [];
      const visit = (axis: number, offset: number) => {
        if (axis === size.length) return void positions.push(offset);
        for (let i = 0; i < size[axis]!; i++)
          visit(axis + 1, offset + (block[axis]![0] + i) * strides[axis]!);
      };
      visit(0, 0);
      const eye = (n: number, c: number) =>
        Array.from({ length: n }, (_, i) =>
          Array.from({ length: n }, (__, j) => (i === j ? c : 0)),
        );
      this.blocks.push({
        positions,
        size,
        statistics: size.map((n) => eye(n, settings.matrixEps)),
        roots: size.map((n) => eye(n, 1)),
        next: size.map((n) => eye(n, 1)),
      });
    }
  }

  /** One step: the grafted Shampoo direction of gradient `g` (flat, row-major). */
  direction(g: number[]): number[] {
    const { matrixEps, statisticsSteps, rootSteps } = this.settings;
    this.step += 1;
    let direction = [...g];
    for (const block of this.blocks) {
      const rank = block.size.length;
      const values = block.positions.map((p) => g[p]!);
      if (this.step % statisticsSteps === 0) {
        block.statistics = block.statistics.map((l, axis) => {
          const rows = unfold(values, block.size, axis);
          return l.map((row, i) => row.map((v, j) => v + dot(rows[i]!, rows[j]!)));
        });
      }
      if (this.step % rootSteps === 0) {
        const fresh = block.statistics.map((l) => {
          if (l.length === 1) return [[1]]; // the port's 1x1 power is the identity
          const lambdaMax = Math.max(
            ...new EigenvalueDecomposition(new Matrix(l), { assumeSymmetric: true })
              .realEigenvalues,
          );
          return symmetricPower(l, -1 / (2 * rank), matrixEps * lambdaMax);
        });
        if (this.settings.lagged) {
          block.roots = block.next;
          block.next = fresh;
        } else block.roots = fresh;
      }
      const product = block.roots
        .slice(1)
        .reduce((acc, r) => kron(acc.to2DArray(), r), new Matrix(block.roots[0]!));
      const p = product.mmul(Matrix.columnVector(values)).getColumn(0);
      block.positions.forEach((q, i) => (direction[q] = p[i]!));
    }
    const scale = norm(g) / (norm(direction) + 1e-16);
    direction = direction.map((x) => x * scale);
    return direction;
  }
}

/** Each variable's grafted direction at the last of the run's steps, replayed. */
function replayDirections(
  history: Map<string, number[][]>,
  shapes: Map<string, number[]>,
  settings: PortSettings,
): Map<string, number[]> {
  const result = new Map<string, number[]>();
  for (const [name, steps] of history) {
    const port = new PortShampoo(shapes.get(name)!, settings);
    for (const g of steps) result.set(name, port.direction(g));
  }
  return result;
}

const shapesOf = (model: tf.LayersModel) =>
  new Map(model.trainableWeights.map((w) => [(w.read() as tf.Variable).name, w.shape as number[]]));

const CASES: Array<{ label: string; steps: number; settings: PortSettings; rtol?: number }> = [
  {
    // Blocks of 128: every kernel of the test model merges to rank 1 (e.g. [5, 3] -> [15]), so
    // the update is the gradient (a 1e-12 ridge on its rank-1 statistic amplified float32 noise).
    label: 'merged rank-1 kernels are only grafted',
    steps: 2,
    settings: { blockSize: 128, matrixEps: 1e-12, statisticsSteps: 1, rootSteps: 1 },
    rtol: 1e-6,
  },
  {
    // Blocks of 4: [24, 5] and [5, 3] keep pieces of size 1 (1x1 statistics).
    label: 'blocks of 4 with 1x1 statistics',
    steps: 2,
    settings: { blockSize: 4, matrixEps: 1e-3, statisticsSteps: 1, rootSteps: 1 },
  },
  {
    label: 'statistics every 2 and roots every 3 steps, counted from 1',
    steps: 3,
    settings: { blockSize: 4, matrixEps: 1e-3, statisticsSteps: 2, rootSteps: 3 },
  },
  {
    label: 'identity preconditioners before the first root update',
    steps: 2,
    settings: { blockSize: 4, matrixEps: 1e-3, statisticsSteps: 1, rootSteps: 3 },
  },
  {
    // Refreshes on steps 2, 4 and 6: identity until step 3, the roots of step 2 on steps 4-5,
    // those of step 4 on step 6 and 7.
    label: 'roots from a worker thread, one refresh late',
    steps: 7,
    settings: { blockSize: 4, matrixEps: 1e-3, statisticsSteps: 1, rootSteps: 2, lagged: true },
  },
];

for (const { label, steps, settings, rtol = 2e-3 } of CASES) {
  test(`Shampoo follows Google's port in float64: ${label}`, async () => {
    const { blockSize, matrixEps, statisticsSteps, rootSteps, lagged = false } = settings;
    const tensors = tf.memory().numTensors;
    const run = await runOnce(
      (m) =>
        new Shampoo(m, tf.train.sgd(0.1), {
          blockSize,
          matrixEps,
          facUpdateFreq: statisticsSteps,
          invUpdateFreq: rootSteps,
          rootWorker: lagged,
        }),
      steps,
    );
    const expected = replayDirections(run.history, shapesOf(run.model), settings);
    for (const [name, direction] of expected) {
      assertClose(values(run.result.get(name)!), direction, rtol, name);
    }
    const shampoo = run.optimizer as Shampoo;
    const preconditioned = [...expected.keys()].filter((n) => shampoo.layoutOf(n) != null);
    if (blockSize === 128) {
      assert.deepEqual(preconditioned, [], 'no layout for tensors of merged rank 1');
      const own = [...run.state.keys()].filter((n) => n.startsWith('shampoo/'));
      assert.deepEqual(own, [], 'no Shampoo state for them');
    } else {
      assert.equal(preconditioned.length, 4, 'every kernel is preconditioned');
      const unitPieces = preconditioned.filter((n) =>
        shampoo.layoutOf(n)!.blocks.some((b) => b.size.includes(1)),
      );
      assert.ok(unitPieces.length >= 1, 'the test must exercise 1x1 statistics');
    }
    run.cleanup();
    assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
  });
}

test("Shampoo by name with the port's in-place Nesterov and weight decay follows the port's step", async () => {
  const settings = { blockSize: 4, matrixEps: 1e-3, statisticsSteps: 1, rootSteps: 1 };
  const { blockSize, matrixEps } = settings;
  await checkReferenceNesterovSteps('shampoo', { blockSize, matrixEps }, (shape) => {
    const port = new PortShampoo(shape, settings);
    return (g) => port.direction(g);
  });
});

test('Shampoo with a root worker resumes exactly while roots are in flight', async () => {
  const options = { blockSize: 4, matrixEps: 1e-3, invUpdateFreq: 2, rootWorker: true };
  const tensors = tf.memory().numTensors;
  const batches = [0, 1, 2, 3, 4, 5].map((s) => [
    randomTensor([7, 6, 6, 2], 1 + s),
    randomTensor([7, 3], 100 + s),
  ]);
  const seededModel = () => {
    const model = buildModel();
    const weights = model.getWeights().map((w, i) => randomTensor(w.shape, 50 + i, 0.5));
    model.setWeights(weights);
    tf.dispose(weights);
    return model;
  };
  const make = () => {
    const model = seededModel();
    const optimizer = new Shampoo(model, tf.train.momentum(0.05, 0.9), options);
    model.compile({ optimizer, loss: 'meanSquaredError' });
    return { model, optimizer };
  };
  const train = async (model: tf.LayersModel, from: number, to: number) => {
    const losses: number[] = [];
    for (const [x, y] of batches.slice(from, to)) {
      losses.push((await model.trainOnBatch(x!, y!)) as number);
    }
    return losses;
  };
  const reference = make();
  const full = await train(reference.model, 0, 6);
  const first = make();
  // Steps 1-3: the roots of step 2's refresh are in flight (or waiting) when the state is saved.
  const head = await train(first.model, 0, 3);
  const savedModel = first.model.getWeights().map((w) => w.clone());
  const weights = await first.optimizer.getWeights();
  const savedState = weights.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
  disposeIterationCounters(weights);
  assert.ok(
    savedState.some((w) => /^shampoo\/\d+\/next\d+_\d+$/.test(w.name)),
    'the roots waiting for the next refresh are saved',
  );
  first.optimizer.dispose();
  first.model.dispose();
  const resumed = make();
  resumed.model.setWeights(savedModel);
  await resumed.optimizer.setWeights(savedState);
  const tail = await train(resumed.model, 3, 6);
  assert.deepEqual([...head, ...tail], full);
  // The lag is real: the synchronous roots give another trajectory.
  const synchronous = seededModel();
  const sync = new Shampoo(synchronous, tf.train.momentum(0.05, 0.9), {
    ...options,
    rootWorker: false,
  });
  synchronous.compile({ optimizer: sync, loss: 'meanSquaredError' });
  const syncLosses = await train(synchronous, 0, 6);
  assert.notDeepEqual(syncLosses, full);
  // Step 2 refreshes: the synchronous run applies its roots at once, the lagged one the identity.
  assert.deepEqual(syncLosses.slice(0, 2), full.slice(0, 2), 'identical before the roots differ');
  tf.dispose([...batches.flat(), ...savedModel, ...savedState.map((w) => w.tensor)]);
  for (const r of [reference, resumed, { model: synchronous, optimizer: sync }]) {
    r.optimizer.dispose();
    r.model.dispose();
  }
  assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
});

test("Shampoo's root worker takes the float64 host route only", () => {
  const model = buildModel();
  assert.throws(
    () => new Shampoo(model, tf.train.sgd(0.1), { rootWorker: true, linalg: 'newton' }),
    /Shampoo: rootWorker computes roots with the float64 'host' route; got linalg 'newton'/,
  );
  model.dispose();
});

test('Shampoo with a root worker refreshes only tensors with a gradient, as synchronously', () => {
  // Gradual unfreezing: only the last layer trains for 3 steps, then all. Without gradients the
  // first layer's statistics stay matrixEps I, whose roots (1e3 per axis) must not be installed.
  const norms = (rootWorker: boolean) => {
    const model = twoLayerModel(60);
    const optimizer = new Shampoo(model, tf.train.sgd(0.01), {
      rootWorker,
      graft: 'none',
      blockSize: 8,
      invUpdateFreq: 2,
    });
    const x = randomTensor([16, 12], 70);
    const y = randomTensor([16, 4], 71);
    const result: number[] = [];
    for (let step = 0; step < 6; step++) {
      const before = model.layers[1]!.getWeights()[0]!.clone();
      mseStep(model, optimizer, x, y, step < 3);
      result.push(
        tf.tidy(() => tf.norm(tf.sub(model.layers[1]!.getWeights()[0]!, before)).dataSync()[0]!),
      );
      before.dispose();
    }
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
    return result;
  };
  const synchronous = norms(false);
  const worker = norms(true);
  assert.deepEqual(worker.slice(0, 3), [0, 0, 0]);
  const limit = 10 * Math.max(...synchronous);
  assert.ok(
    worker.every((n) => Number.isFinite(n) && n <= limit),
    `the first layer's updates ${worker} against the synchronous ${synchronous}`,
  );
});
